import Foundation

/// An SVG of the learning curves: training and validation loss (left axis) and validation Dice and IoU
/// (right axis, 0-1) per epoch.
public enum LearningCurves {
    public static func svg(_ records: [EpochRecord]) -> String {
        let width = 720.0, height = 360.0, left = 60.0, right = 60.0, top = 30.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let epochs = max(1, records.count)
        let maxLoss = max(1e-9, records.map { max($0.trainLoss, $0.validationLoss) }.max() ?? 1)
        func x(_ e: Int) -> Double { left + (epochs == 1 ? plotW / 2 : plotW * Double(e - 1) / Double(epochs - 1)) }
        func yLoss(_ v: Double) -> Double { top + plotH * (1 - v / maxLoss) }
        func yScore(_ v: Double) -> Double { top + plotH * (1 - v) }
        func line(_ values: [Double], _ y: (Double) -> Double, _ color: String, _ dash: String = "") -> String {
            let points = values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset + 1), y($0.element)) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" \(dash) points=\"\(points)\"/>\n"
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>\n", left, top, plotW, plotH)
        for k in 0...4 {
            let f = Double(k) / 4
            s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.3g</text>\n", left - 6, yLoss(maxLoss * f) + 4, maxLoss * f)
            s += String(format: "<text x=\"%.0f\" y=\"%.0f\">%.2f</text>\n", width - right + 6, yScore(f) + 4, f)
        }
        s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">epoch (1-%d)</text>\n", left + plotW / 2, height - 10, epochs)
        s += line(records.map { $0.trainLoss }, yLoss, "#d62728")
        s += line(records.map { $0.validationLoss }, yLoss, "#d62728", "stroke-dasharray=\"5,4\"")
        s += line(records.map { $0.validationDice }, yScore, "#1f77b4")
        s += line(records.map { $0.validationIoU }, yScore, "#2ca02c")
        let legend = [("#d62728", "train loss"), ("#d62728", "val loss (dashed)"), ("#1f77b4", "val Dice"), ("#2ca02c", "val IoU")]
        for (i, (color, label)) in legend.enumerated() {
            s += String(format: "<rect x=\"%.0f\" y=\"8\" width=\"12\" height=\"12\" fill=\"%@\"/><text x=\"%.0f\" y=\"18\">%@</text>\n",
                        left + Double(i) * 150, color, left + Double(i) * 150 + 16, label)
        }
        return s + "</svg>\n"
    }
}
