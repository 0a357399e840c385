/// A fused-multiply-add throughput probe: the measure of this machine's fp32 peak.
///
/// Runs `iterations` rounds of 16 independent FMA chains on vectors of `CompiledISA.tileWidth`
/// floats, so neither latency nor memory limits it. Each round is 16 x 2 x width FLOPs.
public enum FMAProbe {
    public static func flopsPerIteration() -> Double { Double(16 * 2 * CompiledISA.tileWidth) }

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
        var a12 = V(repeating: 1.12), a13 = V(repeating: 1.13), a14 = V(repeating: 1.14), a15 = V(repeating: 1.15)
        let x = V(repeating: 0.999_999), y = V(repeating: 1e-7)
        for _ in 0..<iterations {
            a0 = a0.addingProduct(a0, x) ; a1 = a1.addingProduct(a1, x); a2 = a2.addingProduct(a2, x); a3 = a3.addingProduct(a3, x)
            a4 = a4.addingProduct(a4, x); a5 = a5.addingProduct(a5, x); a6 = a6.addingProduct(a6, x); a7 = a7.addingProduct(a7, x)
            a8 = a8.addingProduct(a8, y); a9 = a9.addingProduct(a9, y); a10 = a10.addingProduct(a10, y); a11 = a11.addingProduct(a11, y)
            a12 = a12.addingProduct(a12, y); a13 = a13.addingProduct(a13, y); a14 = a14.addingProduct(a14, y); a15 = a15.addingProduct(a15, y)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15))
        return s.sum()
    }
}
