/// A channel's intensity mapping with its statistics filled in (see `IntensityWindow`).
enum IntensityMapping {
    /// Clip to [low, low + 1/scale], scale to [0, 1], round down to 256 levels.
    case scaled(low: Float, scale: Float)
    /// (v - mean) / std in double precision.
    case standardized(mean: Double, std: Double)
    /// Clip to [low, high], then (v - mean) / std.
    case clipped(low: Float, high: Float, mean: Float, std: Float)

    func apply<C: MutableCollection>(_ values: inout C) where C.Element == Float {
        switch self {
        case .scaled(let lo, let scale):
            for i in values.indices { values[i] = (min(1, max(0, (values[i] - lo) * scale)) * 255).rounded(.down) / 255 }
        case .standardized(let mean, let std):
            for i in values.indices { values[i] = Float((Double(values[i]) - mean) / std) }
        case .clipped(let low, let high, let mean, let std):
            for i in values.indices { values[i] = (min(high, max(low, values[i])) - mean) / std }
        }
    }
}

/// The statistics of one channel that an intensity window needs: its count, sum and sum of squares (in the
/// values' order, so a volume streamed slice by slice sums exactly as one held whole), and exact percentiles.
///
/// Percentiles are exact order statistics without holding the values: values map to 32-bit keys that sort
/// as the floats do; a first pass counts the top 16 bits of the keys, which places each wanted order
/// statistic in one bucket; a second pass counts the low 16 bits within those buckets, which gives its key,
/// hence its value. Memory: 64 Ki counters per pass.
struct IntensityStatistics {
    private(set) var count = 0
    private(set) var sum = 0.0
    private(set) var squares = 0.0
    private var coarse: [Int] = []
    /// The wanted buckets (top 16 bits of a key: at most four, so a search beats hashing every value), and
    /// per bucket, in that order, the counts of the low 16 bits (`fineCounts[j << 16 | low]`).
    private var fineBuckets: [UInt32] = []
    private var fineCounts: [Int] = []
    /// Order statistics by rank, once resolved.
    private var ranked: [Int: Float] = [:]
    /// The percentiles asked for (0-100).
    let percentiles: [Double]

    init(percentiles: [Double]) {
        self.percentiles = percentiles
        if !percentiles.isEmpty { coarse = [Int](repeating: 0, count: 1 << 16) }
    }

    /// The statistics of values held whole (one pass each).
    init<C: Collection>(_ values: C, for window: IntensityWindow) where C.Element == Float {
        self.init(percentiles: window.percentileBounds)
        for pass in 0..<passes { add(values, pass: pass); finish(pass: pass) }
    }

    /// Passes over the values: one for moments, two for percentiles.
    var passes: Int { percentiles.isEmpty ? 1 : 2 }

    @inline(__always)
    static func key(_ v: Float) -> UInt32 {
        let bits = v.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    static func value(_ key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }

    /// Adds values to pass `pass` (0: counts, moments and the coarse histogram; 1: the fine histograms).
    mutating func add<C: Collection>(_ values: C, pass: Int) where C.Element == Float {
        if pass == 0 {
            count += values.count
            for v in values { sum += Double(v); squares += Double(v) * Double(v) }
            if !percentiles.isEmpty { for v in values { coarse[Int(IntensityStatistics.key(v) >> 16)] += 1 } }
        } else {
            let buckets = fineBuckets
            fineCounts.withUnsafeMutableBufferPointer { counts in
                for v in values {
                    let k = IntensityStatistics.key(v), high = k >> 16
                    for j in buckets.indices where buckets[j] == high { counts[j << 16 | Int(k & 0xFFFF)] += 1 }
                }
            }
        }
    }

    /// The ranks (positions in sorted order) that the percentiles interpolate between.
    private var ranks: [Int] {
        var r: Set<Int> = []
        for p in percentiles where count > 0 {
            let position = p / 100 * Double(count - 1)
            r.insert(Int(position))
            if Int(position) + 1 < count { r.insert(Int(position) + 1) }
        }
        return r.sorted()
    }

    /// Closes pass `pass`: after the first, the buckets holding the wanted ranks are chosen; after the
    /// second, the ranks' values are read off.
    mutating func finish(pass: Int) {
        if percentiles.isEmpty || count == 0 { return }
        if pass == 0 {
            for rank in ranks {
                let high = UInt32(bucket(of: rank, in: coarse).index)
                if !fineBuckets.contains(high) { fineBuckets.append(high) }
            }
            fineCounts = [Int](repeating: 0, count: fineBuckets.count << 16)
        } else {
            for rank in ranks {
                let (high, before) = bucket(of: rank, in: coarse)
                let j = fineBuckets.firstIndex(of: UInt32(high))!
                let (low, _) = bucket(of: rank - before, in: Array(fineCounts[(j << 16)..<((j + 1) << 16)]))
                ranked[rank] = IntensityStatistics.value(UInt32(high) << 16 | UInt32(low))
            }
            coarse = []
            fineBuckets = []
            fineCounts = []
        }
    }

    /// The bucket of `counts` holding rank `rank`, and how many values lie in the buckets before it.
    private func bucket(of rank: Int, in counts: [Int]) -> (index: Int, before: Int) {
        var seen = 0
        for (i, n) in counts.enumerated() where n > 0 {
            if rank < seen + n { return (i, seen) }
            seen += n
        }
        return (counts.count - 1, seen)
    }

    /// The value at percentile `p` (one of `percentiles`), interpolated between order statistics as numpy does.
    func percentile(_ p: Double) -> Float {
        if count == 0 { return 0 }
        let position = p / 100 * Double(count - 1)
        let i = Int(position), f = Float(position - Double(i))
        return i + 1 < count ? ranked[i]! * (1 - f) + ranked[i + 1]! * f : ranked[i]!
    }
}

extension IntensityWindow {
    /// The percentiles this window clips at (none but for `percentile`).
    var percentileBounds: [Double] {
        if case .percentile(let low, let high) = self { return [low, high] }
        return []
    }
}
