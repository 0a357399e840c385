import Engine

/// Symmetric int8 weights, per output channel (or one scale per tensor), and Int32 biases.
public enum WeightQuantizer {
    /// Quantizes `values` whose output channel is axis `axis` of `shape`: `q = round(w / s)`, `s = max|w| / 127`.
    /// A channel of zeros gets scale 1 (any scale represents it exactly).
    public static func quantize(_ values: [Float], shape: [Int], axis: Int, perTensor: Bool) -> (q: [Int8], quantization: Quantization) {
        let channels = perTensor ? 1 : shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        func channel(_ i: Int) -> Int { perTensor ? 0 : (i / inner) % shape[axis] }
        var maxAbs = [Float](repeating: 0, count: channels)
        for (i, v) in values.enumerated() { maxAbs[channel(i)] = max(maxAbs[channel(i)], abs(v)) }
        let scales = maxAbs.map { $0 > 0 ? $0 / 127 : 1 }
        var q = [Int8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let r = (v / scales[channel(i)]).rounded(.toNearestOrEven)
            q[i] = Int8(max(-127, min(127, r)))
        }
        return (q, Quantization(axis: perTensor ? 0 : axis, scales: scales, zeroPoints: [Int32](repeating: 0, count: channels)))
    }

    /// An Int32 bias at scale `inputScale * weightScale[o]`.
    public static func quantizeBias(_ bias: [Float], inputScale: Float, weightScales: [Float]) -> (q: [Int32], quantization: Quantization) {
        var scales: [Float] = [], q: [Int32] = []
        for (o, b) in bias.enumerated() {
            let s = inputScale * weightScales[weightScales.count == 1 ? 0 : o]
            scales.append(s)
            let r = (b / s).rounded(.toNearestOrEven)
            q.append(Int32(max(-2.0e9, min(2.0e9, r.isFinite ? r : 0))))
        }
        return (q, Quantization(axis: 0, scales: scales, zeroPoints: [Int32](repeating: 0, count: bias.count)))
    }
}
