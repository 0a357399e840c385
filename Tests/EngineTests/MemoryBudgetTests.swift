import XCTest
@testable import Engine

/// Inputs too large to hold are refused with one error naming the shape, before anything of their size is
/// allocated: the arithmetic would overflow, or the plan needs more than this machine's memory.
final class MemoryBudgetTests: XCTestCase {
    func model() -> Model {
        let b = GraphBuilder(seed: 3)
        let x = b.input("image", channels: 1)
        b.output("y", b.conv(b.relu(b.conv(x, 64, kernel: 3, name: "a")), 2, kernel: 1, name: "b"))
        var m = Metadata()
        m[MetadataKey.classes] = .int(2)
        m[MetadataKey.inputChannels] = .int(1)
        return Model(metadata: m, graph: b.graph)
    }

    func testAbsurdInputShapesAreRefused() throws {
        let executor = try Executor(model: model(), threads: 1, policy: .forced(.igemm))
        for (shape, text) in [(TensorShape(channels: 1, height: 100_000, width: 100_000), "is too large: more than 2147483648 values"),
                              (TensorShape(channels: 1, depth: 1 << 40, height: 1 << 40, width: 1 << 40), "is too large"),
                              (TensorShape(channels: 1, height: 0, width: 7), "is empty")] {
            XCTAssertThrowsError(try executor.plan([shape])) { error in
                XCTAssertTrue("\(error)".hasPrefix("an input of \(shape) "), "\(error)")
                XCTAssertTrue("\(error)".contains(text), "\(error)")
            }
        }
    }

    /// 1 x 40000 x 40000 is a valid input (1.6e9 values), but the 64-channel layer's output alone is 410 GB.
    func testAPlanOverThisMachinesMemoryIsRefused() throws {
        let memory = MemoryBudget.physicalBytes
        try XCTSkipIf(memory == 0 || memory > 400 << 30, "this machine has \(memory >> 30) GiB, enough for the plan")
        let shape = TensorShape(channels: 1, height: 40_000, width: 40_000)
        let executor = try Executor(model: model(), threads: 1, policy: .forced(.igemm))
        XCTAssertThrowsError(try executor.plan([shape])) { error in
            XCTAssertTrue("\(error)".hasPrefix("the plan for inputs 1x1x40000x40000 needs "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("MiB of activations and weights; this machine has \(memory >> 20) MiB"), "\(error)")
        }
        // A plan that fits is made as before.
        XCTAssertNoThrow(try executor.plan([TensorShape(channels: 1, height: 40, width: 40)]))
    }
}
