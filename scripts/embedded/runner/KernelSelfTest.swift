// The self-test runner of the Embedded builds (`scripts/arm-check`): the same randomized
// kernel-vs-reference checks as the XCTest suite, plus the pthread parallel-for's determinism.
import Kernels
import KernelChecks
import SegrunLibc

func report(_ name: String, _ failures: [String]) -> Int {
    if failures.isEmpty {
        print("ok    \(name)")
        return 0
    }
    print("FAIL  \(name): \(failures.count) failure(s)")
    for f in failures.prefix(5) { print("      \(f)") }
    return failures.count
}

/// 1 and 2 threads of the pthread parallel-for give bitwise-identical convolution output.
func threadDeterminism() -> [String] {
    var rng = SplitMix64(seed: 0x5001)
    let g = Conv2dGeometry(batch: 1, inChannels: 17, inHeight: 13, inWidth: 11, outChannels: 33, kernel: 3)
    let input = rng.floats(g.inputShape.elementCount), weights = rng.floats(g.weightCount), bias = rng.floats(g.outChannels)
    var failures: [String] = []
    for algorithm in ConvAlgorithm.candidates(for: g) {
        guard let plan = try? F32Conv2dPlan(g, weights: weights, bias: bias, activation: .relu, algorithm: algorithm) else {
            failures.append("plan \(algorithm)")
            continue
        }
        let prepared = AlignedBuffer(count: plan.preparedInputFloats)
        let scratch = AlignedBuffer(count: plan.scratchFloats * 2)
        plan.prepareInput(input, into: prepared.pointer, rows: 0..<plan.preparedRows)
        var outputs: [[Float]] = []
        for threads in [1, 2] {
            var out = poisoned(g.outputShape.elementCount)
            out.withUnsafeMutableBufferPointer { o in
                let base = o.baseAddress!
                ParallelFor.run(count: plan.workItems, threads: threads) { items, t in
                    plan.run(input: prepared.constPointer, output: base, items: items, scratch: scratch.pointer + t * plan.scratchFloats)
                }
            }
            outputs.append(out)
        }
        if outputs[0].map({ $0.bitPattern }) != outputs[1].map({ $0.bitPattern }) { failures.append("\(algorithm): 1 vs 2 threads differ") }
    }
    return failures
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    print("segrun kernel self-test, compiled ISA: \(CompiledISA.name), tile width \(CompiledISA.tileWidth)")
    var failed = 0
    failed += report("igemm", ConvChecks.randomized(.igemm, count: 25, seed: 0x1001))
    failed += report("gemm1x1", ConvChecks.randomized(.gemm1x1, count: 20, seed: 0x1002))
    failed += report("depthwise", ConvChecks.randomized(.depthwise, count: 20, seed: 0x1003))
    failed += report("winograd-f2", ConvChecks.randomized(.winograd(.f2), count: 12, seed: 0x1004))
    failed += report("winograd-f4", ConvChecks.randomized(.winograd(.f4), count: 12, seed: 0x1005))
    failed += report("winograd-f6", ConvChecks.randomized(.winograd(.f6), count: 12, seed: 0x1006))
    failed += report("winograd-f4-narrow", ConvChecks.randomized(.winogradNarrow, count: 12, seed: 0x1007))
    failed += report("winograd-f4-narrow volume run (bit for bit)", NarrowVolumeChecks.randomized(count: 20, seed: 0x100a))
    failed += report("tile edges", ConvChecks.tileEdges(seed: 0x1007))
    failed += report("work item splits", ConvChecks.workItemSplits(seed: 0x1008))
    failed += report("transposed conv", ConvTransposeChecks.randomized(count: 24, seed: 0x2001))
    failed += report("pooling", LayerChecks.pooling(count: 15, seed: 0x2002))
    failed += report("upsampling", LayerChecks.upsampling(count: 15, seed: 0x2003))
    failed += report("elementwise", LayerChecks.elementwise(count: 12, seed: 0x2004))
    failed += report("exp", LayerChecks.exponential(seed: 0x2005))
    failed += report("pointwise and group norm", PointwiseChecks.randomized(count: 20, seed: 0x2006))
    failed += report("conv backward", BackwardChecks.convolution(count: 12, seed: 0x5001))
    failed += report("layer backward", BackwardChecks.layers(count: 12, seed: 0x5002))
    failed += report("int8 conv (bit for bit)", Q8Checks.randomizedConv(count: 30, seed: 0x8001))
    print("int8 dot-product path (sdot): " + (Q8DotMicrokernel.isAvailable ? "available on this CPU" : "not on this CPU (or SEGRUN_DOTPROD=0)"))
    failed += report("int8 conv, dot-product path (bit for bit)", Q8Checks.randomizedDotConv(count: 30, seed: 0x8005))
    failed += report("int8 winograd (bit for bit)", Q8Checks.randomizedWinograd(count: 20, seed: 0x8004))
    failed += report("int8 winograd F(4x4,3x3) (bit for bit)", Q8Checks.randomizedWinograd(count: 20, seed: 0x8044, tile: .f4))
    failed += report("int8 transposed conv (bit for bit)", Q8Checks.randomizedConvTranspose(count: 16, seed: 0x8002))
    failed += report("int8 layers", Q8Checks.layers(seed: 0x8003))
    failed += report("int8 elementwise (vector = scalar)", Q8Checks.elementwise(seed: 0x8006))
    failed += report("threads (pthreads)", threadDeterminism())
    print(failed == 0 ? "all kernel checks passed" : "\(failed) kernel check failure(s)")
    return failed == 0 ? 0 : 1
}
