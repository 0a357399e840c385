/// Overlap metrics on label maps.
///
/// An image whose truth and prediction are both empty for a class scores Dice 1 and IoU 1 for that
/// class (nothing to find, nothing found): the convention of the Medical Segmentation Decathlon.
/// Multi-class scores average the foreground classes (1...K-1); background is not scored.
public enum Metrics {
    public struct Overlap {
        public var intersection = 0
        public var predicted = 0
        public var truth = 0

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
