import Foundation
import Train

/// The per-class table that `eval`, `train` and the demo print: pooled Dice and IoU, Dice over the images
/// where the class is present (with their count), and a flag on a class that is never predicted.
enum ScoreTable {
    static func render(_ scores: SegmentationScores, name: (Int) -> String) -> String {
        let width = max(12, (0..<scores.classes.count).map { name($0).count }.max() ?? 0)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        func cell(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "   -  " }
        var lines = ["  " + pad("class") + "  pooled Dice  pooled IoU  Dice where present"]
        for (i, c) in scores.perClass.enumerated() {
            var line = "  " + pad(name(i)) + "  " + cell(c.pooledDice) + "       " + cell(c.pooledIoU) + "      "
                + cell(c.presentDice) + String(format: " (%d images)", c.presentImages)
            if c.neverPredicted { line += "  NEVER PREDICTED" } else if c.pooledDice == nil { line += "  (absent from these images)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
