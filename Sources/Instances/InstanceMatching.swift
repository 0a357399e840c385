/// Instance segmentation scores as the nucleus and lesion literature reports them (the 2018 Data Science Bowl,
/// StarDist, Cellpose): predicted and true instances are matched one to one by intersection over union (IoU),
/// the highest IoU first; a pair counts as a true positive at threshold t when its IoU >= t. Per image,
/// AP(t) = TP / (TP + FP + FN) (an image with no instances in either scores 1), averaged over images; mean AP
/// is AP averaged over t = 0.50, 0.55, ..., 0.95. Per-instance Dice averages, over the true instances, the
/// Dice with the predicted instance each is matched to (0 when none).
public struct InstanceScores: Equatable, Sendable {
    /// The IoU thresholds of mean AP.
    public static let thresholds: [Double] = (0..<10).map { 0.5 + 0.05 * Double($0) }

    public private(set) var images = 0
    /// Summed over images: AP at each of `thresholds`.
    public private(set) var averagePrecisionSums = [Double](repeating: 0, count: 10)
    public private(set) var trueInstances = 0
    public private(set) var predictedInstances = 0
    public private(set) var matchedDiceSum = 0.0

    public init() {}

    /// AP at IoU `t`, one of `thresholds` (0.5, 0.75, ...), over the images added.
    public func averagePrecision(at t: Double) -> Double {
        guard let k = InstanceScores.thresholds.firstIndex(where: { abs($0 - t) < 1e-9 }), images > 0 else { return 0 }
        return averagePrecisionSums[k] / Double(images)
    }

    /// AP averaged over IoU 0.50:0.05:0.95.
    public var meanAveragePrecision: Double {
        images == 0 ? 0 : averagePrecisionSums.reduce(0, +) / Double(averagePrecisionSums.count * images)
    }

    /// Mean Dice of each true instance with its matched prediction (0 when unmatched).
    public var perInstanceDice: Double { trueInstances == 0 ? 0 : matchedDiceSum / Double(trueInstances) }

    /// Adds one image (or volume): its predicted and true instance labels on the same grid.
    public mutating func add(predicted: InstanceLabels, truth: InstanceLabels) {
        precondition(predicted.labels.count == truth.labels.count, "predicted and true labels differ in size")
        let pairs = InstanceScores.matches(predicted, truth)
        images += 1
        trueInstances += truth.count
        predictedInstances += predicted.count
        for (k, t) in InstanceScores.thresholds.enumerated() {
            let tp = pairs.filter { $0.iou >= t - 1e-12 }.count
            let denominator = tp + (predicted.count - tp) + (truth.count - tp)
            averagePrecisionSums[k] += denominator == 0 ? 1 : Double(tp) / Double(denominator)
        }
        for p in pairs { matchedDiceSum += p.dice }
    }

    /// One-to-one matches, the highest IoU first, of instances that overlap.
    static func matches(_ predicted: InstanceLabels, _ truth: InstanceLabels) -> [(predicted: Int, truth: Int, iou: Double, dice: Double)] {
        let pa = predicted.areas, ta = truth.areas
        var intersections: [Int: Int] = [:]
        let stride = truth.count + 1
        for i in 0..<predicted.labels.count {
            let p = Int(predicted.labels[i]), t = Int(truth.labels[i])
            if p > 0 && t > 0 { intersections[p * stride + t, default: 0] += 1 }
        }
        var candidates: [(predicted: Int, truth: Int, iou: Double, dice: Double)] = intersections.map { key, n in
            let p = key / stride, t = key % stride
            return (p, t, Double(n) / Double(pa[p] + ta[t] - n), 2 * Double(n) / Double(pa[p] + ta[t]))
        }
        // Highest IoU first; ties in label order, so the result does not depend on dictionary order.
        candidates.sort { ($0.iou, -$0.predicted, -$0.truth) > ($1.iou, -$1.predicted, -$1.truth) }
        var usedP = Set<Int>(), usedT = Set<Int>()
        var result: [(predicted: Int, truth: Int, iou: Double, dice: Double)] = []
        for c in candidates where !usedP.contains(c.predicted) && !usedT.contains(c.truth) {
            usedP.insert(c.predicted)
            usedT.insert(c.truth)
            result.append(c)
        }
        return result
    }
}
