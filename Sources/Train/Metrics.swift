/// Overlap metrics on label maps.
///
/// One image's `Overlap` of a class that is in neither its truth nor its prediction has Dice 1 and IoU 1
/// (nothing to find, nothing found: the Medical Segmentation Decathlon's convention). Scores of a set of
/// images, which must not reward predicting nothing, are `SegmentationScores`. Background is not scored.
public enum Metrics {
    public struct Overlap: Equatable {
        public var intersection = 0
        public var predicted = 0
        public var truth = 0

        public init() {}

        public init(intersection: Int, predicted: Int, truth: Int) {
            self.intersection = intersection
            self.predicted = predicted
            self.truth = truth
        }

        public var dice: Double { predicted + truth == 0 ? 1 : 2 * Double(intersection) / Double(predicted + truth) }
        public var iou: Double {
            let union = predicted + truth - intersection
            return union == 0 ? 1 : Double(intersection) / Double(union)
        }

        public static func += (a: inout Overlap, b: Overlap) {
            a.intersection += b.intersection
            a.predicted += b.predicted
            a.truth += b.truth
        }
    }

    /// Overlap of class `c` between two label maps.
    public static func overlap(_ predicted: ArraySlice<UInt8>, _ truth: ArraySlice<UInt8>, class c: UInt8) -> Overlap {
        var o = Overlap()
        for (p, t) in zip(predicted, truth) {
            let inP = p == c, inT = t == c
            if inP { o.predicted += 1 }
            if inT { o.truth += 1 }
            if inP && inT { o.intersection += 1 }
        }
        return o
    }

    /// Foreground classes of a model with `modelClasses` outputs (1 = binary).
    public static func foregroundClasses(_ modelClasses: Int) -> [UInt8] {
        modelClasses == 1 ? [1] : (1..<modelClasses).map { UInt8($0) }
    }
}

extension Metrics {
    /// Boundary pixels of class `c` (in the class, with a 4-neighbour outside it or on the image edge).
    static func boundary(_ labels: ArraySlice<UInt8>, width w: Int, height h: Int, class c: UInt8) -> [(Int, Int)] {
        let base = labels.startIndex
        var points: [(Int, Int)] = []
        for y in 0..<h {
            for x in 0..<w where labels[base + y * w + x] == c {
                let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || labels[base + y * w + x - 1] != c || labels[base + y * w + x + 1] != c
                    || labels[base + (y - 1) * w + x] != c || labels[base + (y + 1) * w + x] != c
                if edge { points.append((y, x)) }
            }
        }
        return points
    }

    /// 95th-percentile Hausdorff distance in pixels between the boundaries of class `c` (the larger of
    /// the two directed 95th percentiles, as MONAI computes it). 0 when both are empty; nil when exactly
    /// one is empty (undefined: reported separately, not averaged).
    public static func hausdorff95(_ predicted: ArraySlice<UInt8>, _ truth: ArraySlice<UInt8>, width: Int, height: Int, class c: UInt8) -> Double? {
        let a = boundary(predicted, width: width, height: height, class: c), b = boundary(truth, width: width, height: height, class: c)
        if a.isEmpty && b.isEmpty { return 0 }
        if a.isEmpty || b.isEmpty { return nil }
        func directed(_ from: [(Int, Int)], _ to: [(Int, Int)]) -> Double {
            var distances: [Int] = []
            distances.reserveCapacity(from.count)
            for (y, x) in from {
                var best = Int.max
                for (v, u) in to {
                    let d = (y - v) * (y - v) + (x - u) * (x - u)
                    if d < best { best = d; if d == 0 { break } }
                }
                distances.append(best)
            }
            distances.sort()
            let k = min(distances.count - 1, Int((0.95 * Double(distances.count - 1)).rounded(.up)))
            return Double(distances[k]).squareRoot()
        }
        return max(directed(a, b), directed(b, a))
    }
}
