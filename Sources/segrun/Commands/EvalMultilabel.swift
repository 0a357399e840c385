import Foundation
import Engine
import ImageIO
import Instances
import Train

/// `segrun eval` of a multi-label model (or of label-bit masks in --pred) on a multi-label dataset: one mask
/// folder per label, multi-channel masks, or the UW-Madison layout (train.csv). Each label is scored as a mask of
/// its own at the images' own sizes, and the UW-Madison challenge's score is reported over the cases (the slices
/// of one scan: "caseN_dayM" of a UW-Madison id; every other image is a case of its own).
extension EvalCommand {
    @discardableResult
    func evaluateMultilabel(_ modelFile: Model?) throws -> SegmentationScores {
        var model: Model? = nil
        var segmenter: Segmenter? = nil
        if var loaded = modelFile {
            if let threshold { loaded.metadata[MetadataKey.threshold] = .float(Double(threshold)) }
            if let threshold, loaded.metadata.floats(MetadataKey.thresholds) != nil {
                loaded.metadata[MetadataKey.thresholds] = .floats([Float](repeating: threshold, count: loaded.classes))
            }
            try applyLabelThresholds(thresholds, to: &loaded)
            do { segmenter = try Segmenter(loaded, threads: threads ?? ParallelFor.coreCount) } catch { throw CLIError("\(error)") }
            model = loaded
        }
        let index: DatasetIndex
        do { index = try DatasetIndex.scan(data) } catch { throw CLIError("\(error)") }
        var cases = index.cases
        if let val {
            // The split training made: the same cases in the same order, grouped by scan (so cases:F works).
            let split = try resolvedSplit(val, model: model)
            let stubs = cases.map { Sample(name: $0.name, image: [], mask: [], group: DatasetIndex.scanName($0.name)) }
            do { cases = try split.split(stubs).validation.map { cases[$0] } } catch { throw CLIError("\(data): \(error)") }
        }
        if cases.isEmpty { throw CLIError("\(data): no images to score") }
        var labelNames: [String] = []
        var labels = model?.classes ?? 0
        var scores: SegmentationScores? = nil
        var challenge: UWMadisonScore? = nil
        // Slices gathered per case, scored when the case is complete (its names are contiguous in sorted order).
        var pending: (group: String, predicted: [[UInt8]], truth: [[UInt8]], height: Int, width: Int)? = nil
        func flush() {
            guard let p = pending else { return }
            challenge!.addCase(predicted: p.predicted, truth: p.truth, height: p.height, width: p.width)
            pending = nil
        }
        let progress = ProgressBar(total: cases.count, label: "eval")
        for (k, entry) in cases.enumerated() {
            let (image, truth, maskChannels): (Image, [UInt8], Int?)
            do { (image, truth, maskChannels) = try SegmentationDataset.labelledCase(entry, root: data) } catch { throw CLIError("\(error)") }
            if scores == nil {
                labelNames = SegmentationDataset.multilabelNames(index, maskChannels: maskChannels)
                if model == nil { labels = labelNames.count }
                if labels < 1 || labels > 8 { throw CLIError("\(data): \(labels) labels; multi-label scoring takes 1 to 8") }
                if model != nil && !labelNames.isEmpty && labelNames.count != labels {
                    throw CLIError("\(data) has \(labelNames.count) labels (\(labelNames.joined(separator: ", "))); the model has \(labels) outputs")
                }
                scores = SegmentationScores(modelClasses: labels, multilabel: true)
                challenge = UWMadisonScore(labels: labels)
            }
            let predicted: [UInt8]
            if let segmenter, let model {
                let input = image.converted(toChannels: model.inputChannels)
                let x = Tensor(shape: TensorShape(batch: 1, channels: input.channels, height: input.height, width: input.width), data: input.planar)
                do { predicted = segmenter.labels(try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions())) } catch {
                    throw CLIError("\(error)")
                }
            } else {
                // DIR/ID.png, or DIR/STEM.png under the image's own file name (segrun predict of one scan's folder).
                let stem = OutputNames.stem(entry.images[0])
                let candidates = [pred! + "/" + entry.name + ".png", pred! + "/" + stem + ".png"]
                guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    throw CLIError("\(pred!): no prediction for \(entry.name) (looked for \(entry.name).png and \(stem).png: label bits, as segrun predict writes them)")
                }
                let mask: Image
                do { mask = try ImageFile.read(path) } catch { throw CLIError("\(error)") }
                if mask.width != image.width || mask.height != image.height { throw CLIError("\(path): size differs from its image") }
                predicted = mask.converted(toChannels: 1).samples.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
            }
            scores!.add(predicted: predicted[...], truth: truth[...])
            let group = DatasetIndex.scanName(entry.name) ?? entry.name
            if let p = pending, p.group != group || p.height != image.height || p.width != image.width { flush() }
            if pending == nil { pending = (group, [], [], image.height, image.width) }
            pending!.predicted.append(predicted)
            pending!.truth.append(truth)
            progress.update(k + 1)
        }
        flush()
        let s = scores!, c = challenge!
        func name(_ i: Int) -> String { i < labelNames.count ? labelNames[i] : "label\(i + 1)" }
        func number(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "null" }
        if json {
            var fields: [(String, String)] = [("images", "\(s.images)"), ("multilabel", "true"), ("pooled_dice", number(s.pooledDice)),
                                              ("pooled_iou", number(s.pooledIoU)), ("present_dice", number(s.presentDice))]
            fields.append(("per_label", JSON.object(s.perClass.indices.map { i in
                (name(i), JSON.object([("pooled_dice", number(s.perClass[i].pooledDice)), ("present_dice", number(s.perClass[i].presentDice)),
                                       ("challenge_dice", number(c.dice(label: i))), ("challenge_hausdorff_term", number(c.hausdorffTerm(label: i)))]))
            })))
            fields.append(("uw_madison", JSON.object([("cases", "\(c.cases)"), ("dice", number(c.dice)),
                                                      ("hausdorff_term", number(c.hausdorffTerm)), ("score", number(c.score))])))
            print(JSON.object(fields))
        } else {
            print(String(format: "%d images, %d labels (overlaps kept): pooled Dice %.4f, pooled IoU %.4f; Dice over images with the label %.4f",
                         s.images, labels, s.pooledDice, s.pooledIoU, s.presentDice))
            print(ScoreTable.render(s, name: name))
            print(String(format: "UW-Madison score over %d case(s): 0.4 x Dice %.4f + 0.6 x (1 - normalized 3D Hausdorff) %.4f = %.4f",
                         c.cases, c.dice, c.hausdorffTerm, c.score))
            print("  per label: " + (0..<labels).map { String(format: "%@ Dice %.4f, Hausdorff term %.4f", name($0), c.dice(label: $0), c.hausdorffTerm(label: $0)) }
                .joined(separator: "; "))
        }
        return s
    }
}
