/// The UW-Madison GI tract challenge's score of multi-label masks: 0.4 x Dice + 0.6 x (1 - normalized 3D
/// Hausdorff distance), with these conventions (stated here because they decide the figure):
/// - **Dice** per image and label, 1 when both the truth and the prediction of that image lack the label, averaged
///   over every (image, label).
/// - **Hausdorff** per case (the slices of one scan, stacked in name order) and label, in voxel units (slice index,
///   row, column, as the challenge's grid), divided by the stack's diagonal `sqrt(D^2 + H^2 + W^2)` and capped at 1;
///   0 when both lack the label, 1 when only one side has it. The term is `1 - that`, averaged over every (case, label).
///
/// Labels are bits of the label maps (bit c: label c), as multi-label models write them.
public struct UWMadisonScore: Equatable, Sendable {
    public let labels: Int
    public private(set) var diceSum: [Double]
    public private(set) var images = 0
    public private(set) var hausdorffSum: [Double]
    public private(set) var cases = 0

    public init(labels: Int) {
        precondition((1...8).contains(labels), "1 to 8 labels")
        self.labels = labels
        diceSum = [Double](repeating: 0, count: labels)
        hausdorffSum = diceSum
    }

    /// Adds one case: its slices in order, each `height * width` label bits, predicted and true.
    public mutating func addCase(predicted: [[UInt8]], truth: [[UInt8]], height: Int, width: Int) {
        precondition(predicted.count == truth.count && !truth.isEmpty, "one prediction per slice")
        let plane = height * width, depth = truth.count
        for (p, t) in zip(predicted, truth) {
            precondition(p.count == plane && t.count == plane, "slices of \(height)x\(width)")
            for c in 0..<labels {
                let bit = UInt8(1) << UInt8(c)
                var inter = 0, np = 0, nt = 0
                for i in 0..<plane {
                    let a = p[i] & bit != 0, b = t[i] & bit != 0
                    if a { np += 1 }
                    if b { nt += 1 }
                    if a && b { inter += 1 }
                }
                diceSum[c] += np + nt == 0 ? 1 : 2 * Double(inter) / Double(np + nt)
            }
        }
        images += depth
        let diagonal = Double(depth * depth + height * height + width * width).squareRoot()
        for c in 0..<labels {
            let bit = UInt8(1) << UInt8(c)
            let a = predicted.flatMap { $0.map { $0 & bit != 0 ? UInt8(1) : 0 } }
            let b = truth.flatMap { $0.map { $0 & bit != 0 ? UInt8(1) : 0 } }
            let distance: Double
            switch (a.contains(1), b.contains(1)) {
            case (false, false): distance = 0
            case (true, true): distance = min(1, UWMadisonScore.hausdorff(a, b, size: [depth, height, width]) / diagonal)
            default: distance = 1
            }
            hausdorffSum[c] += 1 - distance
        }
        cases += 1
    }

    /// The symmetric Hausdorff distance between the nonzero elements of two masks of `size` (both non-empty), in
    /// elements: the larger of the two directed distances, each read from the exact distance transform of the other.
    public static func hausdorff(_ a: [UInt8], _ b: [UInt8], size: [Int]) -> Double {
        let toB = DistanceTransform.euclidean(b.map { $0 == 0 ? 1 : 0 }, size: size)
        let toA = DistanceTransform.euclidean(a.map { $0 == 0 ? 1 : 0 }, size: size)
        var d = 0.0
        for i in 0..<a.count {
            if a[i] != 0 { d = max(d, toB[i]) }
            if b[i] != 0 { d = max(d, toA[i]) }
        }
        return d
    }

    /// Mean Dice of label `c` over the images, and over every label.
    public func dice(label c: Int) -> Double { images == 0 ? 0 : diceSum[c] / Double(images) }
    public var dice: Double { images == 0 ? 0 : diceSum.reduce(0, +) / Double(images * labels) }
    /// Mean `1 - normalized Hausdorff` of label `c` over the cases, and over every label.
    public func hausdorffTerm(label c: Int) -> Double { cases == 0 ? 0 : hausdorffSum[c] / Double(cases) }
    public var hausdorffTerm: Double { cases == 0 ? 0 : hausdorffSum.reduce(0, +) / Double(cases * labels) }
    /// 0.4 x Dice + 0.6 x the Hausdorff term.
    public var score: Double { 0.4 * dice + 0.6 * hausdorffTerm }
}
