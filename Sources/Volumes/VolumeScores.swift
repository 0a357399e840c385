/// Per case and class: overlap and surface distances in millimetres (the grid's units).
///
/// Conventions (as the Medical Segmentation Decathlon and MONAI): a class absent from both truth and
/// prediction of a case scores Dice 1 and NSD 1 there and has no HD95 or ASD; present in only one, Dice 0, NSD
/// 0, and HD95 and ASD undefined (counted, not averaged). The headline is pooled Dice over all cases, which a
/// class never predicted cannot pass.
public struct VolumeScores {
    public struct ClassScore: Equatable {
        public var intersection = 0, predicted = 0, truth = 0
        public var hd95: Double?
        public var averageSurfaceDistance: Double?
        public var normalizedSurfaceDice: Double

        public var dice: Double { predicted + truth == 0 ? 1 : 2 * Double(intersection) / Double(predicted + truth) }
        public var iou: Double {
            let union = predicted + truth - intersection
            return union == 0 ? 1 : Double(intersection) / Double(union)
        }
        /// In neither truth nor prediction.
        public var empty: Bool { predicted + truth == 0 }
    }

    public struct Case {
        public var name: String
        public var classes: [ClassScore]
    }

    /// Foreground class ids scored.
    public let classes: [UInt8]
    public var tolerance: Double
    public private(set) var cases: [Case] = []

    public init(classes: [UInt8], nsdTolerance: Double = 1) {
        self.classes = classes
        tolerance = nsdTolerance
    }

    /// Scores one case: label volumes of the same grid.
    public mutating func add(_ name: String, predicted: [UInt8], truth: [UInt8], size: [Int], spacing: [Double]) {
        var scores: [ClassScore] = []
        for c in classes {
            let p = predicted.map { $0 == c }, t = truth.map { $0 == c }
            var s = ClassScore(normalizedSurfaceDice: 1)
            for i in 0..<p.count {
                if p[i] { s.predicted += 1 }
                if t[i] { s.truth += 1 }
                if p[i] && t[i] { s.intersection += 1 }
            }
            if !s.empty {
                let d = SurfaceDistance.between(p, t, size: size, spacing: spacing)
                s.hd95 = d.hd95
                s.averageSurfaceDistance = d.averageSurfaceDistance
                s.normalizedSurfaceDice = d.normalizedSurfaceDice(tolerance: tolerance)
            }
            scores.append(s)
        }
        cases.append(Case(name: name, classes: scores))
    }

    /// Means over cases of class `k` (index into `classes`): Dice, IoU, NSD over all cases; HD95 and ASD over
    /// the cases where they are defined, with the count of the others.
    public func summary(_ k: Int) -> (dice: Double, iou: Double, hd95: Double?, asd: Double?, nsd: Double, undefined: Int, pooledDice: Double?) {
        let all = cases.map { $0.classes[k] }
        func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        let hd = all.compactMap(\.hd95), asd = all.compactMap(\.averageSurfaceDistance)
        let i = all.reduce(0) { $0 + $1.intersection }, p = all.reduce(0) { $0 + $1.predicted }, t = all.reduce(0) { $0 + $1.truth }
        return (mean(all.map(\.dice)) ?? 0, mean(all.map(\.iou)) ?? 0, mean(hd), mean(asd), mean(all.map(\.normalizedSurfaceDice)) ?? 0,
                all.filter { !$0.empty && $0.hd95 == nil }.count, p + t == 0 ? nil : 2 * Double(i) / Double(p + t))
    }

    /// Pooled Dice averaged over the classes present somewhere: the headline.
    public var pooledDice: Double {
        let values = classes.indices.compactMap { summary($0).pooledDice }
        return values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}
