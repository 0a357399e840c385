import Foundation
import Engine
import ImageIO
import Train
import Volumes

/// The demo's self-contained HTML report: the fp32 vs int8 table, learning curves, the best and worst
/// cases of the int8 model (truth outlined, prediction tinted), and Grad-CAM pictures. Images are embedded
/// as data URIs, so the one file can be mailed or opened anywhere.
struct DemoReport {
    struct Row {
        var name: String
        var scores: SegmentationScores
        var bytes: Int
        var latency: Double
    }

    /// The names of a model's scored classes, in `SegmentationScores.classes` order.
    static func classNames(_ model: Model) -> [String] {
        let names = model.metadata.strings(MetadataKey.classNames) ?? []
        return Metrics.foregroundClasses(model.classes).map { c in
            model.classes == 1 ? (names.last ?? "foreground") : (Int(c) < names.count ? names[Int(c)] : "class\(c)")
        }
    }

    var title = "segrun demo"
    var settings: [String] = []
    var rows: [Row] = []
    var machine = ""
    var curvesSVG: String?

    /// Writes `path` atomically. `model` (int8 or fp32) makes the case pictures; `explainer` (fp32) the Grad-CAMs.
    /// A dataset of volumes gets a montage of each case instead (Grad-CAM is for 2D images). `from` limits the
    /// case pictures to these image stems (the held-out slices), when given.
    func write(to path: String, dataDir: String, model: Model, explainer: Model, cases: Int = 3, from: Set<String>? = nil) throws {
        let pictures: String
        if VolumeDataset.holdsVolumes(dataDir) {
            let all = ((try? VolumeDataset.scan(dataDir)) ?? []).filter { $0.mask != nil }
            pictures = "<h2>Cases (int8)</h2><div class=\"muted\">sections through the truth's centre: truth above, the int8 model's prediction below</div>"
                + (try VolumeCaseMontages.html(model: model, cases: Array(all.prefix(2 * cases)), classNames: DemoReport.classNames(explainer)))
        } else {
            pictures = try imagePictures(dataDir: dataDir, model: model, explainer: explainer, cases: cases, from: from)
        }
        try write(to: path, pictures: pictures, classNames: DemoReport.classNames(explainer))
    }

    /// The best and worst images (truth outlined, prediction tinted) and Grad-CAMs of the best.
    private func imagePictures(dataDir: String, model: Model, explainer: Model, cases: Int, from: Set<String>?) throws -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/images")) ?? []).filter(ImageFile.looksLikeImage).sorted()
            .filter { from?.contains(($0 as NSString).deletingPathExtension) ?? true }
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: ParallelFor.coreCount) } catch { throw CLIError("\(error)") }
        var scored: [(dice: Double, name: String, image: Image, truth: [UInt8], predicted: [UInt8])] = []
        for name in names {
            let stem = (name as NSString).deletingPathExtension
            guard let image = try? ImageFile.read(dataDir + "/images/" + name).converted(toChannels: model.inputChannels),
                  let mask = try? ImageFile.read(dataDir + "/masks/" + stem + ".png").converted(toChannels: 1) else { continue }
            let x = Tensor(shape: TensorShape(batch: 1, channels: image.channels, height: image.height, width: image.width), data: image.planar)
            guard let p = try? segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions()) else { continue }
            let predicted = segmenter.labels(p)
            let ids = mask.samples.map { UInt8(max(0, min(255, ($0 * (mask.bitDepth == 16 ? 65535 : 255)).rounded()))) }
            let truth = model.classes == 1 ? ids.map { $0 > 0 ? UInt8(1) : 0 } : ids
            // An image's score: its Dice averaged over the classes in its truth or prediction.
            var one = SegmentationScores(modelClasses: model.classes)
            one.add(predicted: predicted[...], truth: truth[...])
            scored.append((one.perClass.allSatisfy { $0.pooledDice == nil } ? 1 : one.pooledDice, stem, image, truth, predicted))
        }
        scored.sort { $0.dice > $1.dice }
        func casePictures(_ list: ArraySlice<(dice: Double, name: String, image: Image, truth: [UInt8], predicted: [UInt8])>) -> String {
            list.map { c in
                // Truth as an outline in green (label 2), prediction tinted red (label 1).
                var rgb = Overlay.render(c.image, labels: c.predicted, style: .tint)
                let outline = Overlay.render(Image(width: c.image.width, height: c.image.height, channels: 3, samples: rgb.map { Float($0) / 255 }),
                                             labels: c.truth.map { $0 == 0 ? 0 : 2 }, style: .outline)
                rgb = outline
                return HTMLPage.figure(HTMLPage.png(rgb, c.image.width, c.image.height), String(format: "%@ · Dice %.3f", c.name, c.dice))
            }.joined()
        }
        var cams = ""
        for c in scored.prefix(cases) {
            let x = TensorOps.padToMultiple(segmenter.normalize(Tensor(shape: TensorShape(batch: 1, channels: c.image.channels, height: c.image.height,
                                                                                          width: c.image.width), data: c.image.planar)), explainer.inputMultiple)
            guard let heat = try? ClassActivationMaps.gradCAM(explainer.graph, input: x, layer: nil, target: .mask, threshold: explainer.threshold) else { continue }
            let cropped = TensorOps.crop(Tensor(shape: TensorShape(batch: 1, channels: 1, height: x.shape.height, width: x.shape.width), data: heat),
                                         height: c.image.height, width: c.image.width).data
            cams += HTMLPage.figure(HTMLPage.png(Overlay.heatmap(c.image, heat: cropped), c.image.width, c.image.height), "Grad-CAM · \(c.name)")
        }
        let which = from == nil ? "" : " of the held-out slices"
        return "<h2>Best cases\(which) (int8)</h2><div class=\"muted\">red: prediction · green outline: ground truth</div>" + casePictures(scored.prefix(cases))
            + "<h2>Worst cases\(which) (int8)</h2>" + casePictures(scored.suffix(cases).reversed()[...])
            + "<h2>Explanations: Grad-CAM of the predicted mask (fp32)</h2>" + cams
    }

    private func write(to path: String, pictures: String, classNames: [String]) throws {
        var html = HTMLPage.head(title) + """
            <h1>\(title)</h1><div class="muted">\(machine)</div><div class="muted">\(settings.joined(separator: " · "))</div>
            <h2>fp32 and int8</h2><table><tr><th>model</th><th>pooled Dice</th><th>pooled IoU</th><th>Dice where present</th><th>file</th><th>latency</th><th>speed-up</th></tr>
            """
        let base = rows.first?.latency ?? 1
        for r in rows {
            html += String(format: "<tr><td>%@</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%@</td><td>%.2f ms</td><td>%.2fx</td></tr>",
                           r.name, r.scores.pooledDice, r.scores.pooledIoU, r.scores.presentDice, Format.bytes(r.bytes), r.latency * 1e3, base / r.latency)
        }
        html += "</table>"
        html += "<h2>Per class</h2><div class=\"muted\">pooled Dice over the scored images; in brackets, the mean Dice over the images where the class is in the truth or the prediction</div>"
        html += "<table><tr><th>class</th>" + rows.map { "<th>\($0.name)</th>" }.joined() + "</tr>"
        for i in classNames.indices {
            html += "<tr><td>\(classNames[i])</td>" + rows.map { r -> String in
                let c = r.scores.perClass[i]
                let flag = c.neverPredicted ? " <b style=\"color:#c00\">never predicted</b>" : ""
                return "<td>" + (c.pooledDice.map { String(format: "%.4f", $0) } ?? "absent")
                    + (c.presentDice.map { String(format: " (%.4f)", $0) } ?? "") + flag + "</td>"
            }.joined() + "</tr>"
        }
        html += "</table>"
        if let curvesSVG { html += "<h2>Learning curves</h2><div class=\"curves\">\(curvesSVG)</div>" }
        html += pictures
        html += "<p class=\"muted\">Written by segrun \(SegrunVersion.string).</p></body></html>\n"
        do { try FileIO.writeAtomically(Array(html.utf8), to: path) } catch { throw CLIError("\(error)") }
    }
}
