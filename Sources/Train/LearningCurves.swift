import Foundation

/// An SVG of the learning curves: training and validation loss (left axis) and validation pooled Dice and
/// IoU (right axis, 0-1) per epoch, and for a multi-class model each class's pooled Dice as a thin line
/// (a class never learned stays on the floor, where it shows).
public enum LearningCurves {
    static let classColors = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e", "#aec7e8"]

    public static func svg(_ records: [EpochRecord], classNames: [String] = []) -> String {
        let classes = records.last?.validationClassDice.count ?? 0
        let legendRows = (4 + (classes > 1 ? classes : 0) + 3) / 4
        let width = 720.0, height = 344.0 + 16 * Double(legendRows), left = 60.0, right = 60.0, top = 14.0 + 16 * Double(legendRows), bottom = 40.0
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
        var legend = [("#d62728", "train loss"), ("#d62728", "val loss (dashed)"), ("#1f77b4", "val pooled Dice"), ("#2ca02c", "val IoU")]
        if classes > 1 {
            for c in 0..<classes {
                let color = classColors[c % classColors.count]
                // -1 marks an epoch where the class was in no validation truth or prediction.
                s += line(records.map { c < $0.validationClassDice.count ? max(0, $0.validationClassDice[c]) : 0 }, yScore, color)
                    .replacingOccurrences(of: "stroke-width=\"2\"", with: "stroke-width=\"1\" opacity=\"0.8\"")
                legend.append((color, c < classNames.count ? classNames[c] : "class \(c + 1)"))
            }
        }
        for (i, (color, label)) in legend.enumerated() {
            let x = left + Double(i % 4) * 150, y = 8.0 + Double(i / 4) * 16
            s += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%@\"/><text x=\"%.0f\" y=\"%.0f\">%@</text>\n",
                        x, y, color, x + 16, y + 10, label)
        }
        return s + "</svg>\n"
    }
}
