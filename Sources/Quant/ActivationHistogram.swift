/// The values one tensor took over the calibration set: exact minimum and maximum, and a histogram
/// of `binCount` bins over a range fixed from the first images (values beyond it count in the edge bins).
public struct ActivationHistogram {
    public static let binCount = 2048
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    public private(set) var low: Float = 0
    public private(set) var high: Float = 0
    public private(set) var bins: [Double] = []
    public private(set) var count = 0

    public init() {}

    /// Widens the exact range only (the first pass).
    public mutating func observeRange(_ values: [Float]) {
        for v in values where v.isFinite {
            minimum = min(minimum, v)
            maximum = max(maximum, v)
        }
    }

    /// Fixes the histogram's range from the range seen so far, with headroom for later images.
    public mutating func fixRange() {
        let lo = minimum.isFinite ? minimum : 0, hi = maximum.isFinite ? maximum : 0
        let span = max(hi - lo, 1e-6)
        low = lo < 0 ? lo - 0.25 * span : 0
        high = hi + 0.25 * span
        if lo >= 0 { low = 0 }
        bins = [Double](repeating: 0, count: ActivationHistogram.binCount)
    }

    /// Adds values to the histogram (after `fixRange`) and to the exact range.
    public mutating func observe(_ values: [Float]) {
        if bins.isEmpty { observeRange(values); fixRange() }
        let scale = Float(ActivationHistogram.binCount) / (high - low), last = ActivationHistogram.binCount - 1
        bins.withUnsafeMutableBufferPointer { b in
            for v in values where v.isFinite {
                minimum = min(minimum, v)
                maximum = max(maximum, v)
                let i = Int(((v - low) * scale).rounded(.down))
                b[min(max(i, 0), last)] += 1
            }
        }
        count += values.count
    }

    public var binWidth: Float { (high - low) / Float(ActivationHistogram.binCount) }
    /// Value at the lower edge of bin `i`.
    public func edge(_ i: Int) -> Float { low + Float(i) * binWidth }
}
