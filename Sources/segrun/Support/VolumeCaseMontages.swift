import Foundation
import Engine
import ImageIO
import Train
import Volumes

/// The reports' pictures of volume cases: per case, a montage of the axial, coronal and sagittal sections
/// through the truth's centre (truth above, the model's prediction below), captioned with the case's Dice and
/// HD95 in millimetres per class.
enum VolumeCaseMontages {
    /// HTML figures for `cases` (each with a label volume); `classNames` are the model's foreground classes.
    static func html(model: Model, cases: [VolumeCase], classNames: [String], progress: (Int, Int) -> Void = { _, _ in }) throws -> String {
        let run = VolumeSegmentation(segmenter: try Segmenter(model, threads: ParallelFor.coreCount))
        let classIds = Metrics.foregroundClasses(model.classes)
        var html = ""
        for (k, c) in cases.enumerated() {
            let image = try c.readImage()
            let mask = try VolumeFile.read(c.mask!)
            var truth = mask.voxels.prefix(mask.voxelCount).map { UInt8(max(0, min(255, $0.rounded()))) }
            if model.classes == 1 { truth = truth.map { $0 > 0 ? 1 : 0 } }
            let predicted = try run.labels(image)
            var scores = VolumeScores(classes: classIds)
            scores.add(c.name, predicted: predicted.labels, truth: truth, size: mask.size, spacing: mask.spacing)
            let caption = c.name + " · " + zip(classNames, scores.cases[0].classes).map { name, s in
                String(format: "%@ Dice %.3f, HD95 %@", name, s.dice, s.hd95.map { String(format: "%.1f mm", $0) } ?? "n/a")
            }.joined(separator: " · ")
            let montage = VolumeMontage.compare(IntensityWindow.standard.apply(image), truth: LabelVolume(size: mask.size, labels: truth), predicted: predicted)
            html += HTMLPage.figure(HTMLPage.png(montage.rgb, montage.width, montage.height), caption, wide: true)
            progress(k + 1, cases.count)
        }
        return html
    }
}
