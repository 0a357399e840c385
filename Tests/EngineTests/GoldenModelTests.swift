import XCTest
import Foundation
import Kernels
@testable import Engine

/// Model files written by an earlier release (Tests/EngineTests/Golden/make) with the outputs that release
/// computed: every file must still load, and each convolution algorithm must give those outputs bit for bit
/// on 1 and 2 threads. Bits depend on the instruction set the kernels were compiled for (vector width sets the
/// summation order), so on another ISA than the one recorded (isa.txt) the outputs are compared within 1e-4
/// of their scale instead.
final class GoldenModelTests: XCTestCase {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    let algorithms = ["igemm", "gemm1x1", "winograd-f2", "winograd-f4", "winograd-f6"]

    /// The seeded input of a model: 1 x C x 24 x 40, values in [0, 1).
    func input(_ model: Model) -> Tensor {
        var x = Tensor(zeros: TensorShape(batch: 1, channels: model.inputChannels, height: 24, width: 40))
        var random = SeededGenerator(seed: 7)
        for i in 0..<x.data.count { x.data[i] = (random.uniform() + 1) / 2 }
        return x
    }

    func outputs(_ model: Model, algorithm: String, threads: Int) throws -> [Tensor] {
        try Executor(model: model, threads: threads, policy: .forced(ConvAlgorithm(name: algorithm)!)).run(input(model))
    }

    func testGoldenModelsGiveTheirRecordedBits() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".segrun") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 8, "the golden models are missing (Tests/EngineTests/Golden/make)")
        let record = ProcessInfo.processInfo.environment["SEGRUN_RECORD_GOLDEN"] == "1"
        if record { try Data(CompiledISA.name.utf8).write(to: URL(fileURLWithPath: folder + "/isa.txt")) }
        let recordedISA = (try? String(contentsOfFile: folder + "/isa.txt", encoding: .utf8)) ?? ""
        let sameISA = recordedISA == CompiledISA.name
        if !sameISA { print("golden outputs were recorded on \(recordedISA); this build is \(CompiledISA.name): comparing within 1e-4") }
        for name in names {
            let stem = String(name.dropLast(".segrun".count))
            let model = try FileIO.readModel(folder + "/" + name)
            for algorithm in algorithms {
                let one = try outputs(model, algorithm: algorithm, threads: 1)
                let two = try outputs(model, algorithm: algorithm, threads: 2)
                for (head, y) in one.enumerated() {
                    XCTAssertEqual(y.data.map(\.bitPattern), two[head].data.map(\.bitPattern), "\(stem) \(algorithm) head \(head): 1 and 2 threads differ")
                    let path = folder + "/\(stem).\(algorithm).head\(head).sgtn"
                    if record {
                        try TensorFile.write(y, to: path)
                        continue
                    }
                    let expected = try TensorFile.read(path)
                    XCTAssertEqual(y.shape, expected.shape, "\(stem) \(algorithm) head \(head)")
                    if sameISA {
                        XCTAssertEqual(y.data.map(\.bitPattern), expected.data.map(\.bitPattern), "\(stem) \(algorithm) head \(head): not the recorded bits")
                    } else {
                        let scale = expected.data.reduce(Float(1)) { max($0, abs($1)) }
                        let worst = zip(y.data, expected.data).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                        XCTAssertLessThan(worst, 1e-4 * scale, "\(stem) \(algorithm) head \(head)")
                    }
                }
            }
        }
        if record { print("recorded golden outputs for \(names.count) models on \(CompiledISA.name)") }
    }
}
