/// An int8 multiply-add throughput probe: the measure of this machine's int8 peak, the twin of `FMAProbe`.
///
/// Runs `iterations` rounds of 12 independent chains of what the int8 microkernel does per step,
/// `acc &+= madd(x, y)`: 16 Int16 products summed in pairs into 8 Int32 lanes, then an Int32 add
/// (`vpmaddwd` + `vpaddd` on AVX2, `smull`/`smull2`/`addp` + `add` on NEON). Each chain multiplies its own
/// accumulator's bits, so no two products are the same expression and none can be hoisted. 12 chains
/// cover `vpmaddwd`'s latency on 2 ports. Each round is 12 x 16 multiply-adds: 12 x 32 integer ops.
public enum Q8MaddProbe {
    public static func opsPerIteration() -> Double { Double(12 * 16 * 2) }

    /// Returns a value derived from the accumulators so the work cannot be optimized away.
    @inline(never)
    public static func run(iterations: Int) -> Int32 {
        var a0 = SIMD8<Int32>(repeating: 1), a1 = SIMD8<Int32>(repeating: 2), a2 = SIMD8<Int32>(repeating: 3)
        var a3 = SIMD8<Int32>(repeating: 4), a4 = SIMD8<Int32>(repeating: 5), a5 = SIMD8<Int32>(repeating: 6)
        var a6 = SIMD8<Int32>(repeating: 7), a7 = SIMD8<Int32>(repeating: 8), a8 = SIMD8<Int32>(repeating: 9)
        var a9 = SIMD8<Int32>(repeating: 10), a10 = SIMD8<Int32>(repeating: 11), a11 = SIMD8<Int32>(repeating: 12)
        let y = SIMD16<Int16>(repeating: 3)
        @inline(__always) func step(_ a: inout SIMD8<Int32>) {
            a &+= Q8Microkernel.madd(unsafeBitCast(a, to: SIMD16<Int16>.self), y)
        }
        for _ in 0..<iterations {
            step(&a0); step(&a1); step(&a2); step(&a3); step(&a4); step(&a5)
            step(&a6); step(&a7); step(&a8); step(&a9); step(&a10); step(&a11)
        }
        let s = ((a0 &+ a1) &+ (a2 &+ a3)) &+ ((a4 &+ a5) &+ (a6 &+ a7)) &+ ((a8 &+ a9) &+ (a10 &+ a11))
        return s.wrappedSum()
    }
}
