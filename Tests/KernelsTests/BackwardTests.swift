import XCTest
import Kernels
import KernelChecks

/// Backward kernels against Float64 twins, and the twins against finite differences (seeds printed in failures).
final class BackwardTests: XCTestCase {
    func testConvolutionGradientsMatchReferenceAndFiniteDifferences() {
        XCTAssertEqual(BackwardChecks.convolution(count: 30, seed: 0x5001), [])
    }

    func testWinogradWeightGradientMatchesReference() {
        XCTAssertEqual(BackwardChecks.winogradWeightGradient(count: 30, seed: 0x5004), [])
    }

    func testLayerGradientsMatchReferenceAndFiniteDifferences() {
        XCTAssertEqual(BackwardChecks.layers(count: 30, seed: 0x5002), [])
    }

    func testWeightGradientIsIdenticalForAnySplitOfWork() throws {
        var rng = SplitMix64(seed: 0x5003)
        let g = Conv2dGeometry(batch: 2, inChannels: 19, inHeight: 11, inWidth: 9, outChannels: 23, kernel: 3, stride: 2)
        try checkAnySplit(F32ConvWeightGradient.Plan(g), rng: &rng)
        let h = Conv2dGeometry(batch: 2, inChannels: 37, inHeight: 13, inWidth: 10, outChannels: 23, kernel: 3, padding: 1)
        try checkAnySplit(F32ConvWeightGradient.WinogradPlan(h), rng: &rng)
    }

    func testStreamedWinogradWeightGradientIsIdenticalForAnySpread() throws {
        var rng = SplitMix64(seed: 0x5005)
        let g = Conv2dGeometry(batch: 3, inChannels: 21, inHeight: 37, inWidth: 29, outChannels: 13, kernel: 3, padding: 1)
        let plan = try F32ConvWeightGradient.WinogradPlan(g)
        XCTAssertGreaterThan(plan.streamParts, 1)
        let x = rng.floats(g.inputShape.elementCount), dy = rng.floats(g.outputShape.elementCount)
        func run(_ spread: WorkSpreader) -> [Float] {
            var dw = [Float](repeating: .nan, count: g.weightCount)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in dw.withUnsafeMutableBufferPointer {
                plan.runStreamed(input: xp.baseAddress!, outputGradient: dp.baseAddress!, weightGradient: $0.baseAddress!, spread: spread)
            } } }
            return dw
        }
        let whole = run(runOnCallingThread)
        // Each part alone, last first: what any number of threads could do.
        XCTAssertTrue(whole == run { count, body in for k in (0..<count).reversed() { body(k..<(k + 1)) } })
    }

    /// The plan's result is bit-for-bit the same for any split of its preparation parts and work items.
    func checkAnySplit<Plan: F32ConvWeightGradientPlan>(_ plan: Plan, rng: inout SplitMix64) {
        let g = plan.geometry
        let x = rng.floats(g.inputShape.elementCount), dy = rng.floats(g.outputShape.elementCount)
        func run(_ splits: [Range<Int>], parts: [Range<Int>]) -> [Float] {
            let prepared = AlignedBuffer(count: plan.preparedInputFloats), acc = AlignedBuffer(count: plan.accumulatorFloats)
            let gradient = AlignedBuffer(count: plan.preparedGradientFloats)
            var out = [Float](repeating: 0, count: g.weightCount)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
                for n in 0..<g.batch {
                    for range in parts {
                        plan.prepare(image: xp.baseAddress! + n * g.inputShape.elementsPerImage,
                                     outputGradient: dp.baseAddress! + n * g.outputShape.elementsPerImage,
                                     input: prepared.pointer, gradient: gradient.pointer, parts: range)
                    }
                    for items in splits {
                        plan.accumulate(prepared: prepared.constPointer, outputGradient: gradient.constPointer, into: acc.pointer, items: items)
                    }
                }
            } }
            out.withUnsafeMutableBufferPointer { plan.finish(acc.constPointer, weightGradient: $0.baseAddress!) }
            return out
        }
        let all = 0..<plan.preparationParts
        let whole = run([0..<plan.workItems], parts: [all])
        XCTAssertTrue(whole == run([0..<1, 1..<plan.workItems], parts: [0..<1, 1..<plan.preparationParts]))
        XCTAssertTrue(whole == run((0..<plan.workItems).map { $0..<($0 + 1) }, parts: all.map { $0..<($0 + 1) }))
    }
}
