import XCTest
import Kernels
import KernelChecks

/// The int8 kernels against their integer reference twins: equal bit for bit.
final class Q8KernelTests: XCTestCase {
    func testConvMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedConv(count: 60, seed: 0x8001), []) }
    /// The dot-product path's packing (int8 quads) and shift correction (`x - 128`), through the portable twin of
    /// `sdot` on x86-64 (scripts/arm-check runs the real `sdot` under qemu).
    func testDotProductConvMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedDotConv(count: 24, seed: 0x8005), []) }
    func testConvTransposeMatchesReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedConvTranspose(count: 30, seed: 0x8002), []) }
    func testWinogradMatchesDirectReferenceBitForBit() { XCTAssertEqual(Q8Checks.randomizedWinograd(count: 40, seed: 0x8004), []) }
    func testLayersAndRequantization() { XCTAssertEqual(Q8Checks.layers(seed: 0x8003), []) }
}
