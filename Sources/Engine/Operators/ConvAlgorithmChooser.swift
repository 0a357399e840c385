import Kernels

/// Picks the fastest convolution algorithm for a geometry by timing every candidate on it,
/// once per geometry, and remembers the answer. No hand-written size ranges.
///
/// The answer is keyed by geometry only, not by thread count: it is measured with the thread count of
/// the first request, and later requests with other thread counts reuse it, so that outputs are bitwise
/// identical for any thread count within a process.
///
/// Timing uses the real weights and a deterministic pseudo-random input, with the median of a few runs.
/// All candidates compute the same convolution within their stated tolerances, so the choice only moves
/// results within those tolerances; for bitwise reproducibility across machines, force an algorithm.
public final class ConvAlgorithmChooser {
    public static let shared = ConvAlgorithmChooser()

    private struct Key: Hashable {
        let geometry: Conv2dGeometry
    }
    private var cache: [Key: (ConvAlgorithm, String)] = [:]

    public init() {}

    public func choose(_ g: Conv2dGeometry, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                       activation: FusedActivation, threads: Int) throws(ShapeError) -> (F32Conv2dPlan, String) {
        var single = g
        single.batch = 1
        let key = Key(geometry: single)
        if let (algorithm, note) = cache[key] {
            return (try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: algorithm), note)
        }
        let candidates = ConvAlgorithm.candidates(for: g)
        if let error = g.validate() { throw error }
        if candidates.count == 1 {
            let plan = try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: candidates[0])
            cache[key] = (candidates[0], "only")
            return (plan, "only")
        }
        var input = [Float](repeating: 0, count: single.inputShape.elementCount)
        var state: UInt32 = 0x9E37_79B9
        for i in 0..<input.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            input[i] = Float(Int32(bitPattern: state >> 8) - (1 << 23)) / Float(1 << 23)
        }
        var output = [Float](repeating: 0, count: single.outputShape.elementCount)
        var best: (ConvAlgorithm, Double)? = nil
        var note = "measured"
        for algorithm in candidates {
            let op = try Conv2dOperator(single, weights: weights, bias: bias, activation: activation,
                                        algorithm: algorithm, threads: threads)
            let workspace = AlignedBuffer(count: op.workspaceFloats)
            // Enough repetitions for a stable median, without spending long on big layers.
            let estimate = MonotonicClock.median(runs: 1, warmup: 0) {
                input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { op.run(input: i.baseAddress!, output: $0.baseAddress!, workspace: workspace.pointer) } }
            }
            let runs = estimate > 0.05 ? 1 : estimate > 0.005 ? 3 : 7
            let time = MonotonicClock.median(runs: runs, warmup: 0) {
                input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { op.run(input: i.baseAddress!, output: $0.baseAddress!, workspace: workspace.pointer) } }
            }
            note += " \(algorithm)=\(formatMilliseconds(time))"
            if best == nil || time < best!.1 { best = (algorithm, time) }
        }
        cache[key] = (best!.0, note)
        return (try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: best!.0), note)
    }
}

/// "1.234ms", without Foundation.
func formatMilliseconds(_ seconds: Double) -> String {
    let micros = Int((seconds * 1e6).rounded())
    let ms = micros / 1000, frac = micros % 1000
    let fracText = frac < 10 ? "00\(frac)" : frac < 100 ? "0\(frac)" : "\(frac)"
    return "\(ms).\(fracText)ms"
}
