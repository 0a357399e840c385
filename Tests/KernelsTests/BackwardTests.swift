import XCTest
import Kernels
import KernelChecks

/// Backward kernels against Float64 twins, and the twins against finite differences (seeds printed in failures).
final class BackwardTests: XCTestCase {
    func testConvolutionGradientsMatchReferenceAndFiniteDifferences() {
        XCTAssertEqual(BackwardChecks.convolution(count: 30, seed: 0x5001), [])
    }

    func testLayerGradientsMatchReferenceAndFiniteDifferences() {
        XCTAssertEqual(BackwardChecks.layers(count: 30, seed: 0x5002), [])
    }

    func testWeightGradientIsIdenticalForAnySplitOfOutputChannels() throws {
        var rng = SplitMix64(seed: 0x5003)
        let g = Conv2dGeometry(batch: 2, inChannels: 19, inHeight: 11, inWidth: 9, outChannels: 23, kernel: 3, stride: 2)
        let x = rng.floats(g.inputShape.elementCount), dy = rng.floats(g.outputShape.elementCount)
        let plan = try F32ConvWeightGradient.Plan(g)
        func run(_ splits: [Range<Int>]) -> [Float] {
            let prepared = AlignedBuffer(count: plan.preparedInputFloats), acc = AlignedBuffer(count: plan.accumulatorFloats)
            let gradient = AlignedBuffer(count: plan.preparedGradientFloats)
            var out = [Float](repeating: 0, count: g.weightCount)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
                for n in 0..<g.batch {
                    plan.prepareInput(xp.baseAddress! + n * g.inputShape.elementsPerImage, into: prepared.pointer, rows: 0..<plan.preparedRows)
                    plan.prepareOutputGradient(dp.baseAddress! + n * g.outputShape.elementsPerImage, into: gradient.pointer,
                                               pixels: 0..<(g.outHeight * g.outWidth))
                    for items in splits {
                        plan.accumulate(prepared: prepared.constPointer, outputGradient: gradient.constPointer, into: acc.pointer, items: items)
                    }
                }
            } }
            out.withUnsafeMutableBufferPointer { plan.finish(acc.constPointer, weightGradient: $0.baseAddress!) }
            return out
        }
        let whole = run([0..<plan.workItems])
        XCTAssertTrue(whole == run([0..<1, 1..<plan.workItems]))
        XCTAssertTrue(whole == run((0..<plan.workItems).map { $0..<($0 + 1) }))
    }
}
