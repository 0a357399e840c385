/// A fused-multiply-add throughput probe: the measure of this machine's fp32 peak.
///
/// Runs `iterations` rounds of 12 independent FMA chains on vectors of `CompiledISA.tileWidth`
/// floats, so neither latency (12 chains cover 2 FMA ports x 4-5 cycles) nor memory limits it. The 12
/// accumulators and 2 constants fit the 16 vector registers of AVX2 and the 32 of AVX-512 and NEON;
/// 16 accumulators spilled on AVX2 and under-read the peak. Each round is 12 x 2 x width FLOPs.
public enum FMAProbe {
    public static func flopsPerIteration() -> Double { Double(12 * 2 * CompiledISA.tileWidth) }

    /// Returns a value derived from the accumulators so the work cannot be optimized away.
    public static func run(iterations: Int) -> Float {
        if CompiledISA.tileWidth == 16 { return run(SIMD16<Float>.self, iterations) }
        return run(SIMD8<Float>.self, iterations)
    }

    @inline(never)
    static func run<V: SIMD>(_: V.Type, _ iterations: Int) -> Float where V.Scalar == Float {
        var a0 = V(repeating: 1), a1 = V(repeating: 1.01), a2 = V(repeating: 1.02), a3 = V(repeating: 1.03)
        var a4 = V(repeating: 1.04), a5 = V(repeating: 1.05), a6 = V(repeating: 1.06), a7 = V(repeating: 1.07)
        var a8 = V(repeating: 1.08), a9 = V(repeating: 1.09), a10 = V(repeating: 1.1), a11 = V(repeating: 1.11)
        let x = V(repeating: 1e-7), y = V(repeating: 0.5)
        for _ in 0..<iterations {
            a0 = a0.addingProduct(x, y); a1 = a1.addingProduct(x, y); a2 = a2.addingProduct(x, y); a3 = a3.addingProduct(x, y)
            a4 = a4.addingProduct(x, y); a5 = a5.addingProduct(x, y); a6 = a6.addingProduct(x, y); a7 = a7.addingProduct(x, y)
            a8 = a8.addingProduct(x, y); a9 = a9.addingProduct(x, y); a10 = a10.addingProduct(x, y); a11 = a11.addingProduct(x, y)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return s.sum()
    }
}
