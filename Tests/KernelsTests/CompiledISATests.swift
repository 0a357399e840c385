import XCTest
import Kernels

final class CompiledISATests: XCTestCase {
    /// Fails loudly when the kernels were built for baseline x86-64, where `addingProduct` calls `fmaf`.
    func testFastPathIsCompiledIn() {
        print("compiled ISA: \(CompiledISA.name), tile \(igemmTileRows)x\(CompiledISA.tileColumns)")
        XCTAssertTrue(CompiledISA.hasFMA,
                      "kernels built without FMA (\(CompiledISA.name)): unset SEGRUN_TARGET_CPU or set it to a CPU name")
        XCTAssertTrue(CompiledISA.tileWidth == 8 || CompiledISA.tileWidth == 16)
    }
}
