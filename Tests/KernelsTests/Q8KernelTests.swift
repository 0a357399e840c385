import XCTest
import Kernels
import KernelChecks

/// The int8 kernels against their integer reference twins: equal bit for bit.
final class Q8KernelTests: XCTestCase {
    func testConvMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedConv(count: 60, seed: 0x8001), []) }
    /// The dot-product path's packing (int8 quads) and flip correction: `vpdpbusd` in builds for VNNI CPUs, the
    /// portable twin of `sdot` in other x86-64 builds (scripts/arm-check runs the real `sdot` under qemu).
    func testDotProductConvMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedDotConv(count: 24, seed: 0x8005), []) }
    func testNarrowHeadsMatchReferenceBitForBit() { XCTAssertEqual(Q8Checks.narrowHeads(seed: 0x8011), []) }
    /// The VNNI path itself (`vpdpbusd`, unsigned activations), on more shapes; skipped, naming the missing
    /// flag, where the build's CPU has no VNNI.
    func testVNNIConvMatchesReferenceBitForBit() throws {
        let status = Q8Checks.vnniStatus
        guard status.compiled else { throw XCTSkip("VNNI path not tested: \(status.reason)") }
        XCTAssertEqual(Q8DotMicrokernel.activationFlip, 0)
        XCTAssertEqual(Q8Checks.randomizedDotConv(count: 60, seed: 0x8006), [])
        XCTAssertEqual(Q8Checks.randomizedInPlaceConv(count: 60, seed: 0x8007), [])
    }
    func testConvTransposeMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedConvTranspose(count: 30, seed: 0x8002), []) }
    func testWinogradMatchesDirectReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedWinograd(count: 40, seed: 0x8004), []) }
    func testWinogradF4MatchesDirectReferenceBitForBit() {
        XCTAssertEqual(Q8Checks.randomizedWinograd(count: 40, seed: 0x8044, tile: .f4), [])
    }
    func testLayersAndRequantization() { XCTAssertEqual(Q8Checks.layers(seed: 0x8003), []) }
    func testVectorElementwiseEqualsScalarSpecs() { XCTAssertEqual(Q8Checks.elementwise(seed: 0x8006), []) }
}
