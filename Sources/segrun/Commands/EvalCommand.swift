import ArgumentParser
import Foundation
import Engine
import ImageIO
import Train
import Volumes
import Instances

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model on a folder dataset: pooled Dice and IoU per class, Dice over the images where a class is present, HD95, a threshold sweep.",
        discussion: HelpText.discussion("""
            Images run at their own size (resized to the model's training size and back). The headline is
            pooled Dice: per class, 2|P n T| / (|P| + |T|) summed over all images, then averaged over the
            foreground classes. Per class it also gives the mean Dice over the images where the class is in
            the truth or the prediction, and flags a class that is in the truth but never predicted. The
            Decathlon convention (an image where truth and prediction are both empty scores 1) is printed as
            a secondary figure only: on structures absent from most images it rewards predicting nothing.
            HD95 is undefined when exactly one of truth and prediction is empty; such cases are counted.

            --val scores only the images a split holds out: `--val train` takes the split (and seed) the model
            was trained with, so the scores are on images training never saw; `--val ends:0.4` and the other
            forms of `segrun train --val` name one.

            --pred DIR scores masks made earlier (DIR/STEM.png for images/STEM.png, as segrun predict writes
            them, also merged from shards) without a model; a binary mask is 0/255 (or 0/1), else class ids.

            --instances also scores instances, as the nucleus and lesion literature does: the predicted
            foreground split into connected components (--connectivity 4 or 8, --min-size pixels; --split
            distance separates touching objects by a seeded watershed on the distance transform), the truth
            read as an instance label map (a 16-bit PNG, 0 background, one id per instance) or, where the mask
            is binary, split into components the same way (instances/STEM.png, when the dataset has it, is the
            truth's label map; segrun synth --kind nuclei writes one); matched one to one by IoU, AP(t) = TP / (TP + FP +
            FN) per image at IoU >= t, reported at 0.5 and 0.75 with the mean over 0.50:0.05:0.95, and the
            Dice of each true instance with its match (per-instance Dice).

            Examples:
              segrun eval runs/brain/best.segrun --data ../shared/data/brain-mask --json
              segrun eval runs/nuclei/best.segrun --data nuclei/ --instances --min-size 10
              segrun eval runs/brain/best.segrun --data ../shared/data/brain-mask --val train
              segrun eval --pred masks/ --data ../shared/data/brain-mask

            Volumes: a --data folder of NIfTI or NRRD volumes (images/CASE.nii.gz with masks/CASE.nii.gz, or
            nnU-Net's imagesTr/CASE_0000.nii.gz with labelsTr/CASE.nii.gz) is scored per case and class in
            the volumes' units (millimetres): Dice, IoU, HD95, average surface distance and normalized surface
            Dice at --nsd-tol, then the means over cases and the pooled Dice. A class in neither truth nor
            prediction of a case scores Dice and NSD 1 there and has no HD95; in only one of them, Dice and NSD
            0 and HD95 undefined (counted). --pred DIR scores label volumes made elsewhere (DIR/CASE.nii.gz)
            without a model.

              segrun eval brain.segrun --data volumes/ --json
              segrun eval --pred masks/ --data volumes/ --nsd-tol 2

            Multi-label models (segrun train --multilabel): each label is scored as a mask of its own, overlaps
            kept, then the UW-Madison challenge's score over the cases (the slices of one scan): 0.4 x Dice (per
            image and label, 1 when both lack it) + 0.6 x (1 - 3D Hausdorff over the stack's diagonal, 1 when
            only one side has the label).

              segrun eval runs/gi/best.segrun --data uw-madison/ --val train
              segrun eval --pred masks/ --data uw-madison/ --multilabel
            """))

    @Argument(help: "Model file (not with --pred).")
    var model: String?

    @Option(help: "Dataset folder with images/ and masks/ (PNG or JPEG images, or volumes).")
    var data: String

    @Option(help: "Score the predictions in this folder instead of a model's: masks STEM.png for images (0/255 binary, else class ids, as segrun predict writes them), label volumes CASE.nii.gz or CASE.nrrd for volumes.")
    var pred: String?

    @Option(help: "Volumes: tolerance of the normalized surface Dice, in the volumes' units.")
    var nsdTol: Double = 1

    @Option(help: "Volumes: the slicing axis of a 2D model, x, y or z (default: the coarsest).")
    var axis: String?

    @Option(help: "Probability threshold for binary models (default: the model's); for a multi-label model, every label's.")
    var threshold: Float?

    @Option(help: "Multi-label models: one probability threshold per label, comma-separated.")
    var thresholds: String?

    @Option(help: "Score only the validation images of this split: train (the model's own), ends:F, stripes:F:K, random:F or list:FILE.")
    var val: String?

    @Option(help: "Seed of a random:F split (default: the model's training seed, else 0).")
    var seed: UInt64?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Score label-bit masks in --pred (as a multi-label model's predict writes NAME.png) against a multi-label dataset (masks/LABEL/ folders, multi-channel masks or UW-Madison's train.csv); automatic with a multi-label model. Reports Dice per label and the UW-Madison score.")
    var multilabel = false

    @Flag(help: "Volumes: keep only the largest connected component (26-connected) of each predicted class before scoring (predict --largest-component).")
    var largestComponent = false

    @Flag(help: "Also score instances: AP at IoU 0.5 and 0.75, mean AP over 0.5:0.95, per-instance Dice (--split none, distance or boundary).")
    var instances = false

    @OptionGroup var instanceOptions: InstanceOptions





    func validate() throws {
        if let threads, !(1...ParallelFor.maxThreads).contains(threads) { throw ValidationError("--threads takes 1 to \(ParallelFor.maxThreads)") }
        if (model == nil) == (pred == nil) { throw ValidationError("give a model file or --pred DIR (masks or label volumes made by segrun predict or elsewhere), not both") }
        if let axis, SliceAxis(rawValue: axis) == nil { throw ValidationError("--axis takes x, y or z") }
        if !(nsdTol > 0) { throw ValidationError("--nsd-tol must be positive") }
    }

    func run() throws {
        try evaluate()
    }

    /// The split `spec` names: itself, or with `train` the one the model records (and its seed, unless --seed).
    func resolvedSplit(_ spec: String, model: Model?) throws -> ValidationSplit {
        var text = spec, seed = self.seed ?? 0
        if spec == "train" {
            guard let recorded = model?.metadata.string(MetadataKey.trainValidationSplit) else {
                throw CLIError("\(self.model ?? ""): the model does not record its training split; give --val ends:F, random:F or list:FILE")
            }
            if recorded.hasPrefix("folder:") {
                throw CLIError("\(self.model ?? "") was validated on the separate folder \(recorded.dropFirst(7)); score it with --data \(recorded.dropFirst(7)) and no --val")
            }
            text = recorded
            if self.seed == nil, let s = model?.metadata.int(MetadataKey.trainSeed) { seed = UInt64(s) }
        }
        do { return try ValidationSplit.parse(text, seed: seed) } catch { throw CLIError("\(error)") }
    }

    /// The images of `names` (sorted by stem) that the split `spec` holds out for validation.
    func validationNames(_ names: [String], spec: String, model: Model?) throws -> [String] {
        let split = try resolvedSplit(spec, model: model)
        let stems = names.map { ($0 as NSString).deletingPathExtension }
        do { return try split.split(names: stems).validation.map { names[$0] } } catch { throw CLIError("\(data): \(error)") }
    }

    /// Scores the model (or the masks in --pred), prints the results, and returns the scores (for the demo's summary).
    @discardableResult
    func evaluate() throws -> SegmentationScores {
        let fm = FileManager.default
        let modelFile = try self.model.map(loadModelFile)
        if multilabel || modelFile?.isMultilabel == true {
            if instances { throw CLIError("--instances scores one foreground; a multi-label model has overlapping labels") }
            return try evaluateMultilabel(modelFile)
        }
        let imagesFolder = data + "/images"
        if VolumeDataset.holdsVolumes(data) || (pred != nil && !fm.fileExists(atPath: imagesFolder)) { return try evaluateVolumes(modelFile) }
        var model: Model? = nil
        var segmenter: Segmenter? = nil
        if var loaded = modelFile {
            if let threshold { loaded.metadata[MetadataKey.threshold] = .float(Double(threshold)) }
            do { segmenter = try Segmenter(loaded, threads: threads ?? ParallelFor.coreCount) } catch { throw CLIError("\(error)") }
            model = loaded
        }
        guard var names = try? fm.contentsOfDirectory(atPath: imagesFolder).filter(ImageFile.looksLikeImage) else {
            throw CLIError("\(data): no images/ folder")
        }
        if names.isEmpty { throw CLIError("\(data): the dataset has no images") }
        names.sort { ($0 as NSString).deletingPathExtension < ($1 as NSString).deletingPathExtension }
        if let val { names = try validationNames(names, spec: val, model: model) }

        func readMask(_ path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
            let mask: Image
            switch Result(catching: { () throws(ImageIOError) -> Image in try ImageFile.read(path) }) {
            case .success(let image): mask = image
            case .failure(let error): throw CLIError("\(error)")
            }
            let raw = mask.converted(toChannels: 1).samples.map { UInt8(max(0, min(255, ($0 * (mask.bitDepth == 16 ? 65535 : 255)).rounded()))) }
            return (raw, mask.width, mask.height)
        }
        // --pred DIR: the masks segrun predict wrote (DIR/STEM.png: 0/255 for a binary model, class ids else),
        // read up front, since their class count comes from their values (0/255 or at most 1: binary).
        var predictedMasks: [String: [UInt8]] = [:]
        var modelClasses = model?.classes ?? 1
        if let pred {
            var top: UInt8 = 0, onlyBinary = true
            for name in names {
                let stem = (name as NSString).deletingPathExtension
                let path = pred + "/" + stem + ".png"
                guard fm.fileExists(atPath: path) else { throw CLIError("\(pred): no prediction for \(name) (looked for \(stem).png)") }
                let (pixels, _, _) = try readMask(path)
                for v in pixels where v != 0 { onlyBinary = onlyBinary && v == 255; if v != 255 { top = max(top, v) } }
                predictedMasks[stem] = pixels
            }
            modelClasses = onlyBinary || top <= 1 ? 1 : Int(top) + 1
            if onlyBinary || top <= 1 { predictedMasks = predictedMasks.mapValues { $0.map { $0 == 0 ? 0 : 1 } } }
        }
        if instances { try instanceOptions.check(classes: modelClasses) }
        var instanceScores = InstanceScores()
        let neighbours = instanceOptions.neighbours
        var scores = SegmentationScores(modelClasses: modelClasses)
        let classes = scores.classes
        var hd: [Double] = [], hdUndefined = 0
        var sweep: [(Float, [Double])] = stride(from: Float(0.1), through: 0.91, by: 0.1).map { ($0, []) }
        let progress = ProgressBar(total: names.count, label: "eval")
        for (k, name) in names.enumerated() {
            let stem = (name as NSString).deletingPathExtension
            let (raw, width, height) = try readMask(data + "/masks/" + stem + ".png")
            let truth = modelClasses == 1 ? raw.map { $0 > 0 ? UInt8(1) : 0 } : raw
            if let bad = truth.first(where: { Int($0) >= max(2, modelClasses) }) {
                throw CLIError("\(data)/masks/\(stem).png: mask value \(bad) is not a class id below \(modelClasses)")
            }
            let labels: [UInt8]
            var probabilities: Tensor? = nil
            if let segmenter, let model {
                let image: Image
                do { image = try ImageFile.read(imagesFolder + "/" + name).converted(toChannels: model.inputChannels) } catch { throw CLIError("\(error)") }
                if width != image.width || height != image.height { throw CLIError("\(data)/masks/\(stem).png: size differs from its image") }
                let x = Tensor(shape: TensorShape(batch: 1, channels: image.channels, height: image.height, width: image.width), data: image.planar)
                do { probabilities = try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions()) } catch { throw CLIError("\(error)") }
                labels = segmenter.labels(probabilities!)
            } else {
                labels = predictedMasks[stem]!
                if labels.count != truth.count { throw CLIError("\(pred!)/\(stem).png: size differs from \(data)/masks/\(stem).png") }
            }
            scores.add(predicted: labels[...], truth: truth[...])
            if instances {
                let predictedInstances = instanceOptions.instances(labels, height: height, width: width)
                let instanceMap = data + "/instances/" + stem + ".png"
                let truthInstances: InstanceLabels
                if fm.fileExists(atPath: instanceMap) {
                    truthInstances = try self.truthInstances(instanceMap, neighbours)
                } else if instanceOptions.split == "boundary" {
                    truthInstances = instanceOptions.instances(truth, height: height, width: width)
                } else if modelClasses == 1 {
                    truthInstances = try self.truthInstances(data + "/masks/" + stem + ".png", neighbours)
                } else {
                    throw CLIError("\(data): --instances with a \(modelClasses)-class model needs the true instances as label maps in instances/\(stem).png")
                }
                if truthInstances.labels.count != predictedInstances.labels.count {
                    throw CLIError("\(instanceMap): the instance map's size differs from \(data)/masks/\(stem).png")
                }
                instanceScores.add(predicted: predictedInstances, truth: truthInstances)
            }
            for c in classes {
                if let d = Metrics.hausdorff95(labels[...], truth[...], width: width, height: height, class: c) { hd.append(d) } else { hdUndefined += 1 }
            }
            if modelClasses == 1, let probabilities {
                for j in 0..<sweep.count {
                    let l = TensorOps.labels(probabilities, threshold: sweep[j].0)
                    sweep[j].1.append(Metrics.overlap(l[...], truth[...], class: 1).dice)
                }
            }
            progress.update(k + 1)
        }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        let hd95 = hd.isEmpty ? Double.nan : mean(hd)
        let classNames = model?.metadata.strings(MetadataKey.classNames) ?? []
        let sweepShown = modelClasses == 1 && model != nil
        func name(_ i: Int) -> String {
            let c = Int(classes[i])
            if modelClasses == 1 { return classNames.last ?? "foreground" }
            return c < classNames.count ? classNames[c] : "class\(c)"
        }
        func number(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "null" }
        if json {
            var fields: [(String, String)] = [("images", "\(names.count)"), ("pooled_dice", number(scores.pooledDice)),
                                              ("pooled_iou", number(scores.pooledIoU)), ("present_dice", number(scores.presentDice)),
                                              ("present_iou", number(scores.presentIoU)), ("empty_as_one_dice", number(scores.emptyAsOneDice)),
                                              ("hd95", hd.isEmpty ? "null" : String(format: "%.4f", hd95)), ("hd95_undefined", "\(hdUndefined)")]
            fields.append(("per_class", JSON.object(scores.perClass.indices.map { i in
                let c = scores.perClass[i]
                return (name(i), JSON.object([("pooled_dice", number(c.pooledDice)), ("pooled_iou", number(c.pooledIoU)),
                                              ("present_dice", number(c.presentDice)), ("present_images", "\(c.presentImages)"),
                                              ("empty_as_one_dice", number(c.emptyAsOneDice)),
                                              ("truth_pixels", "\(c.pooled.truth)"), ("predicted_pixels", "\(c.pooled.predicted)"),
                                              ("never_predicted", c.neverPredicted ? "true" : "false")]))
            })))
            fields.append(("never_predicted", "[" + scores.neverPredicted.map { JSON.string(name($0)) }.joined(separator: ", ") + "]"))
            if sweepShown {
                fields.append(("threshold_sweep", "[" + sweep.map { String(format: "{\"threshold\": %.1f, \"dice\": %.6f}", $0.0, mean($0.1)) }.joined(separator: ", ") + "]"))
            }
            if instances { fields.append(("instances", instanceJSON(instanceScores))) }
            print(JSON.object(fields))
        } else {
            print(String(format: "%d images: pooled Dice %.4f, pooled IoU %.4f; Dice over images with the class %.4f; HD95 %@ px (%d undefined)",
                         names.count, scores.pooledDice, scores.pooledIoU, scores.presentDice,
                         hd.isEmpty ? "n/a" : String(format: "%.2f", hd95), hdUndefined))
            print(ScoreTable.render(scores, name: name))
            print(String(format: "secondary (empty-vs-empty images score 1): mean Dice %.4f", scores.emptyAsOneDice))
            if sweepShown {
                print("threshold sweep (per-image Dice, empty-vs-empty 1): " + sweep.map { String(format: "%.1f→%.4f", $0.0, mean($0.1)) }.joined(separator: "  "))
            }
            if instances {
                let i = instanceScores
                print(String(format: "instances (%d-connected, split \(instanceOptions.split), min %d px): AP@0.50 %.4f  AP@0.75 %.4f  mAP@0.50:0.95 %.4f  per-instance Dice %.4f  (%d true, %d predicted)",
                             instanceOptions.connectivity, instanceOptions.minSize, i.averagePrecision(at: 0.5), i.averagePrecision(at: 0.75), i.meanAveragePrecision,
                             i.perInstanceDice, i.trueInstances, i.predictedInstances))
            }
        }
        return scores
    }

    /// The true instances of a mask: a label map (values above 1 other than 255: one id per instance, 16-bit
    /// PNGs for more than 254), or the components of a binary mask.
    func truthInstances(_ path: String, _ neighbours: Connectivity) throws -> InstanceLabels {
        let mask: Image
        do { mask = try ImageFile.read(path).converted(toChannels: 1) } catch { throw CLIError("\(error)") }
        let scale: Float = mask.bitDepth == 16 ? 65535 : 255
        let ids = mask.samples.map { Int(($0 * scale).rounded()) }
        let binary = ids.allSatisfy { $0 == 0 || $0 == 1 || $0 == Int(scale) }
        if binary { return ConnectedComponents.label(ids.map { $0 == 0 ? 0 : 1 }, size: [mask.height, mask.width], connectivity: neighbours) }
        return InstanceLabels.renumbering(ids.map { Int32($0) }, size: [mask.height, mask.width])
    }

    func instanceJSON(_ i: InstanceScores) -> String {
        JSON.object([("ap_50", String(format: "%.6f", i.averagePrecision(at: 0.5))), ("ap_75", String(format: "%.6f", i.averagePrecision(at: 0.75))),
                     ("map_50_95", String(format: "%.6f", i.meanAveragePrecision)), ("per_instance_dice", String(format: "%.6f", i.perInstanceDice)),
                     ("true_instances", "\(i.trueInstances)"), ("predicted_instances", "\(i.predictedInstances)"),
                     ("connectivity", "\(instanceOptions.connectivity)"), ("split", JSON.string(instanceOptions.split)),
                     ("min_size", "\(instanceOptions.minSize)")])
    }

}
