import Foundation
import Kernels

/// How a tensor's 8-bit range is chosen from what calibration saw.
public enum CalibrationMethod: Equatable, CustomStringConvertible {
    /// The exact minimum and maximum.
    case minmax
    /// The given percentile of the values at each end (default 99.99): clips rare outliers.
    case percentile(Double)
    /// The threshold that minimizes the KL divergence between the histogram and its 8-bit version
    /// (TensorRT's entropy calibration), on |x| for signed tensors.
    case entropy

    public init?(name: String, percentile: Double = 99.99) {
        switch name {
        case "minmax": self = .minmax
        case "percentile": self = .percentile(percentile)
        case "entropy", "kl": self = .entropy
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .minmax: return "minmax"
        case .percentile(let p): return "percentile \(p)"
        case .entropy: return "entropy"
        }
    }

    /// The range [low, high] to represent, from a tensor's histogram. Always contains 0.
    public func range(_ h: ActivationHistogram) -> (low: Float, high: Float) {
        let lo = h.minimum.isFinite ? min(0, h.minimum) : 0, hi = h.maximum.isFinite ? max(0, h.maximum) : 0
        switch self {
        case .minmax:
            return (lo, hi)
        case .percentile(let p):
            guard h.count > 0 else { return (lo, hi) }
            let tail = Double(h.count) * (100 - p) / 100
            var cumulative = 0.0, low = lo, high = hi
            if lo < 0 {
                for i in 0..<h.bins.count {
                    cumulative += h.bins[i]
                    if cumulative > tail { low = max(lo, min(0, h.edge(i))); break }
                }
            }
            cumulative = 0
            for i in stride(from: h.bins.count - 1, through: 0, by: -1) {
                cumulative += h.bins[i]
                if cumulative > tail { high = min(hi, max(0, h.edge(i + 1))); break }
            }
            return (low, high)
        case .entropy:
            guard h.count > 0 else { return (lo, hi) }
            // Histogram of |x| over [0, max |x|], folded from the signed one.
            let top = max(-lo, hi)
            if top <= 0 { return (lo, hi) }
            let n = ActivationHistogram.binCount
            var folded = [Double](repeating: 0, count: n)
            for i in 0..<n where h.bins[i] > 0 {
                let center = abs(h.edge(i) + h.binWidth / 2)
                folded[min(n - 1, Int(center / top * Float(n)))] += h.bins[i]
            }
            let levels = lo < 0 ? 128 : 256
            let threshold = KLThreshold.search(folded, levels: levels) * top
            return (max(lo, -threshold), min(hi, threshold))
        }
    }
}

/// TensorRT's entropy calibration on a histogram of |x|: the clip point (as a fraction of the histogram's
/// range) whose 8-bit version of the distribution loses the least information.
enum KLThreshold {
    static func search(_ hist: [Double], levels: Int) -> Float {
        let n = hist.count
        guard n > levels else { return 1 }
        var bestKL = Double.infinity, best = n
        var i = levels
        while i <= n {
            // Reference distribution: the first i bins, with everything beyond folded into the last.
            var p = Array(hist[0..<i])
            var outliers = 0.0
            for j in i..<n { outliers += hist[j] }
            p[i - 1] += outliers
            // Candidate: the first i bins merged into `levels` buckets, spread back over their nonzero bins.
            var q = [Double](repeating: 0, count: i)
            let perBucket = Double(i) / Double(levels)
            for b in 0..<levels {
                let start = Int(Double(b) * perBucket), end = b == levels - 1 ? i : Int(Double(b + 1) * perBucket)
                var sum = 0.0, nonzero = 0
                for j in start..<end { sum += p[j]; if p[j] > 0 { nonzero += 1 } }
                if nonzero == 0 { continue }
                for j in start..<end where p[j] > 0 { q[j] = sum / Double(nonzero) }
            }
            let kl = divergence(p, q)
            if kl < bestKL { bestKL = kl; best = i }
            i += 8
        }
        return Float(best) / Float(n)
    }

    static func divergence(_ p: [Double], _ q: [Double]) -> Double {
        var ps = 0.0, qs = 0.0
        for v in p { ps += v }
        for v in q { qs += v }
        if ps <= 0 || qs <= 0 { return .infinity }
        var kl = 0.0
        for j in 0..<p.count where p[j] > 0 {
            let pj = p[j] / ps
            let qj = q[j] > 0 ? q[j] / qs : 1e-12
            kl += pj * log(pj / qj)
        }
        return kl
    }
}
