import XCTest
import Kernels
import KernelChecks

final class ConvTests: XCTestCase {
    /// Random shapes per algorithm; the seed is in every failure message.
    func testIgemmMatchesReference() { XCTAssertEqual(ConvChecks.randomized(.igemm, count: 40, seed: 0x1001), []) }
    func testGemm1x1MatchesReference() { XCTAssertEqual(ConvChecks.randomized(.gemm1x1, count: 30, seed: 0x1002), []) }
    func testDepthwiseMatchesReference() { XCTAssertEqual(ConvChecks.randomized(.depthwise, count: 30, seed: 0x1003), []) }
    func testWinogradF2MatchesReference() { XCTAssertEqual(ConvChecks.randomized(.winograd(.f2), count: 20, seed: 0x1004), []) }
    func testWinogradF4MatchesReference() { XCTAssertEqual(ConvChecks.randomized(.winograd(.f4), count: 20, seed: 0x1005), []) }
    func testWinogradF6MatchesReference() { XCTAssertEqual(ConvChecks.randomized(.winograd(.f6), count: 20, seed: 0x1006), []) }
    func testNarrowWinogradMatchesReference() { XCTAssertEqual(ConvChecks.randomized(.winogradNarrow, count: 30, seed: 0x1007), []) }
    func testNarrowVolumeRunHasTheBitsOfStackedSlices() { XCTAssertEqual(NarrowVolumeChecks.randomized(count: 40, seed: 0x100a), []) }
    func testTileEdges() { XCTAssertEqual(ConvChecks.tileEdges(seed: 0x1007), []) }
    func testWorkItemSplits() { XCTAssertEqual(ConvChecks.workItemSplits(seed: 0x1008), []) }

    func testInvalidGeometriesAreNamed() {
        var g = Conv2dGeometry(inChannels: 3, inHeight: 2, inWidth: 2, outChannels: 4, kernel: 7, padding: 0)
        XCTAssertEqual(g.validate(), .kernelLargerThanInput(kernel: "7x7", paddedInput: "2x2"))
        g = Conv2dGeometry(inChannels: 0, inHeight: 4, inWidth: 4, outChannels: 4, kernel: 3)
        XCTAssertEqual(g.validate(), .nonPositive("inChannels", 0))
        g = Conv2dGeometry(inChannels: 4, inHeight: 4, inWidth: 4, outChannels: 6, kernel: 3, groups: 4)
        XCTAssertNotNil(g.validate())
        g = Conv2dGeometry(inChannels: 4, inHeight: 8, inWidth: 8, outChannels: 4, kernel: 3, stride: 2)
        XCTAssertThrowsError(try F32Conv2dPlan(g, weights: [Float](repeating: 1, count: g.weightCount), bias: nil,
                                               activation: .none, algorithm: .winograd(.f4)))
    }
}

final class ConvAccuracyTests: XCTestCase {
    /// Prints the measured error of each algorithm on realistic layers and checks it against the stated bound.
    func testMeasuredErrorsAreWithinTolerances() {
        for (algorithm, error) in ConvChecks.measuredErrors(seed: 0x1008) {
            print("measured error \(algorithm): \(error) (tolerance \(ConvChecks.tolerance(algorithm)))")
            XCTAssertLessThan(error, ConvChecks.tolerance(algorithm), "\(algorithm)")
        }
    }
}
