import Foundation
import Engine
import ImageIO
import Train
import Volumes

/// A training run's HTML report (`report.html` in the run folder): the best and last epochs' validation
/// scores per class, the learning curves, the latest grid of validation overlays and, for a dataset of
/// volumes, each validation case as a montage (axial, coronal and sagittal sections through the truth's
/// centre: truth above, the best model's prediction below) with its Dice and HD95 in millimetres.
struct TrainReport {
    var title: String
    var settings: [String]
    var records: [EpochRecord]
    /// Foreground class names, in the records' per-class order.
    var classNames: [String]
    /// At most this many validation cases get a montage.
    var maxCases = 6

    /// Writes `directory/report.html` atomically; `model` (the best) predicts the validation `cases`.
    func write(directory: String, model: Model, cases: [VolumeCase], progress: (Int, Int) -> Void = { _, _ in }) throws {
        var html = HTMLPage.head(title) + "<h1>\(title)</h1><div class=\"muted\">\(settings.joined(separator: " · "))</div>"
        if let last = records.last, let best = records.max(by: { $0.validationDice < $1.validationDice }) {
            html += "<h2>Validation scores</h2><div class=\"muted\">pooled Dice over the validation images; in brackets, the mean Dice over the images where the class is in the truth or the prediction</div>"
            html += "<table><tr><th>class</th><th>best (epoch \(best.epoch))</th><th>last (epoch \(last.epoch))</th></tr>"
            html += "<tr><td>all classes</td>" + [best, last].map { String(format: "<td>%.4f (%.4f)</td>", $0.validationDice, $0.validationPresentDice) }.joined() + "</tr>"
            if classNames.count > 1 {
                for (i, name) in classNames.enumerated() {
                    html += "<tr><td>\(name)</td>" + [best, last].map { r -> String in
                        let d = i < r.validationClassDice.count ? r.validationClassDice[i] : -1
                        let p = i < r.validationClassPresentDice.count ? r.validationClassPresentDice[i] : -1
                        let flag = r.neverPredicted.contains(name) ? " <b style=\"color:#c00\">never predicted</b>" : ""
                        return "<td>" + (d < 0 ? "absent" : String(format: "%.4f", d)) + (p < 0 ? "" : String(format: " (%.4f)", p)) + flag + "</td>"
                    }.joined() + "</tr>"
                }
            }
            html += "</table>"
        }
        if let svg = try? String(contentsOfFile: directory + "/curves.svg", encoding: .utf8) {
            html += "<h2>Learning curves</h2><div class=\"curves\">\(svg)</div>"
        }
        let grids = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("overlays-e") && $0.hasSuffix(".png") }.sorted()
        if let latest = grids.last, let uri = HTMLPage.pngFile(directory + "/" + latest) {
            html += "<h2>Validation images</h2><div class=\"muted\">\(latest): image, truth, prediction</div>" + HTMLPage.figure(uri, latest, wide: true)
        }
        if !cases.isEmpty {
            html += "<h2>Validation cases</h2><div class=\"muted\">sections through the truth's centre: truth above, the best model's prediction below; scores over the whole case</div>"
            html += try VolumeCaseMontages.html(model: model, cases: Array(cases.prefix(maxCases)), classNames: classNames, progress: progress)
            if cases.count > maxCases { html += "<p class=\"muted\">\(cases.count - maxCases) more validation case(s) not shown.</p>" }
        }
        html += "<p class=\"muted\">Written by segrun \(SegrunVersion.string).</p></body></html>\n"
        do { try FileIO.writeAtomically(Array(html.utf8), to: directory + "/report.html") } catch { throw CLIError("\(error)") }
    }
}
