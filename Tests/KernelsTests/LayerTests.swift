import XCTest
import Kernels
import KernelChecks

final class LayerTests: XCTestCase {
    func testTransposedConvMatchesReference() { XCTAssertEqual(ConvTransposeChecks.randomized(count: 40, seed: 0x2001), []) }
    func testPoolingMatchesReference() { XCTAssertEqual(LayerChecks.pooling(count: 25, seed: 0x2002), []) }
    func testUpsamplingMatchesReference() { XCTAssertEqual(LayerChecks.upsampling(count: 25, seed: 0x2003), []) }
    func testElementwiseMatchesReference() { XCTAssertEqual(LayerChecks.elementwise(count: 20, seed: 0x2004), []) }
    func testExponential() { XCTAssertEqual(LayerChecks.exponential(seed: 0x2005), []) }
    func testPointwiseAndGroupNormMatchReference() { XCTAssertEqual(PointwiseChecks.randomized(count: 40, seed: 0x2006), []) }

    func testBatchNormAffineFolding() {
        let bn = BatchNormParameters(gamma: [2, 0.5], beta: [1, -1], mean: [0.5, 3], variance: [4, 0.25], epsilon: 0)
        let (scale, shift) = bn.affine
        XCTAssertEqual(scale, [1, 1])
        XCTAssertEqual(shift, [0.5, -4])
    }

    func testInvalidPoolGeometry() {
        XCTAssertNotNil(Pool2dGeometry(channels: 3, inHeight: 1, inWidth: 1, kernel: 2, stride: 2).validate())
        XCTAssertNotNil(Pool2dGeometry(channels: 0, inHeight: 4, inWidth: 4).validate())
        XCTAssertNil(Pool2dGeometry(channels: 3, inHeight: 5, inWidth: 4).validate())
    }
}
