import XCTest
import Foundation
import KernelChecks
@testable import Engine

final class ModelFileTests: XCTestCase {
    func smallModel() throws -> Model {
        var model = try Model(config: ArchitectureConfig(architecture: .attentionUNet, classes: 3, baseWidth: 4, depth: 2, seed: 2),
                              preset: "test", classNames: ["background", "grey", "white"])
        model.metadata[MetadataKey.trainValidationDice] = .float(0.875)
        model.metadata[MetadataKey.trainEpochs] = .int(12)
        // One quantized tensor, to cover the i8 directory entry.
        model.graph.parameters.append(Parameter(name: "q", shape: [2, 3], data: .i8([1, -2, 3, -4, 5, 127]),
                                                quantization: Quantization(axis: 0, scales: [0.5, 0.25], zeroPoints: [0, 1])))
        return model
    }

    func encode(_ model: Model) -> [UInt8] { ModelFileWriter.encode(model) }

    func decode(_ bytes: [UInt8]) throws(ModelFileError) -> Model {
        let result: Result<Model, ModelFileError> = bytes.withUnsafeBytes { raw in
            do throws(ModelFileError) { return .success(try ModelFileReader.decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Rewrites the checksum so that a deliberate change gets past it to the check behind it.
    func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        for i in 96..<100 { b[i] = 0 }
        let crc = b.withUnsafeBytes { CRC32.checksum($0) }
        for i in 0..<4 { b[96 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        return b
    }

    func assertRejects(_ bytes: [UInt8], containing text: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try decode(bytes)
            XCTFail("accepted a bad file (expected '\(text)')", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains(text), "'\(error.description)' does not mention '\(text)'", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "errors are one line", file: file, line: line)
        }
    }

    func testRoundTripKeepsEverything() throws {
        let model = try smallModel()
        let bytes = encode(model)
        let back = try decode(bytes)
        XCTAssertEqual(back.metadata, model.metadata)
        XCTAssertEqual(back.graph, model.graph)
        XCTAssertEqual(back.metadata.strings(MetadataKey.classNames), ["background", "grey", "white"])
        XCTAssertEqual(back.graph.parameters.last!.floats, [0.5, -1, 1.5, -1.25, 1, 31.5])
    }

    /// Format 2 names every op and attribute: a format 1 file (op codes, positional attributes) reads as the
    /// same model; a reader skips attributes it does not know; an op it does not know is named in the error;
    /// a missing attribute is named. Every op of every architecture goes through both formats.
    func testFormat2IsSelfDescribingAndFormat1StillReads() throws {
        let models = [try smallModel()] + (try [Architecture.unet, .unetPlusPlus, .pspnet, .resUNet].map { architecture in
            try Model(config: ArchitectureConfig(architecture: architecture, classes: 2, baseWidth: 4, depth: 2, seed: 3))
        })
        for model in models {
            let version1 = ModelFileWriter.encode(model, majorVersion: 1) { FormatVersion1Writer.encodeVersion1($0, into: &$1) }
            XCTAssertEqual(version1[8], 1)
            let fromVersion1 = try decode(version1)
            XCTAssertEqual(fromVersion1.graph, model.graph)
            XCTAssertEqual(encode(fromVersion1), encode(model), "format 1 read and written again is today's file")
            XCTAssertEqual(encode(model)[8], 2)
        }
        let model = try smallModel()
        // Files whose nodes `describe` gives: an attribute from a future writer on every node, of every
        // type, is skipped; an op from the future, and a conv without its weight, are named.
        func replacing(_ transform: @escaping (Node, inout Metadata) -> String) -> [UInt8] {
            ModelFileWriter.encode(model, majorVersion: 2) { graph, w in
                GraphCoding.encode(graph, into: &w) { node in
                    var a = NodeAttributes.encode(node.op)
                    let name = transform(node, &a)
                    return (name, a)
                }
            }
        }
        let withFuture = replacing { node, a in
            a["future.option"] = .ints([1, 2, 3])
            a["future.note"] = .string("ignored")
            return node.op.fileName
        }
        XCTAssertEqual(try decode(withFuture).graph, model.graph)
        let last = model.graph.nodes.last!.name
        assertRejects(replacing { node, _ in node.name == last ? "deform_conv2d" : node.op.fileName },
                      containing: "op 'deform_conv2d', which this segrun does not know")
        assertRejects(replacing { node, a in
            if case .conv2d = node.op { a["weight"] = nil }
            return node.op.fileName
        }, containing: "attribute 'weight' is missing")
    }

    func testTensorDataIsAlignedForMapping() throws {
        let bytes = encode(try smallModel())
        var dataOffset: UInt64 = 0
        for i in 0..<8 { dataOffset |= UInt64(bytes[80 + i]) << (8 * UInt64(i)) }
        XCTAssertEqual(dataOffset % 64, 0)
        // Moving the data section by 4 bytes misaligns every tensor: rejected, naming the tensor.
        var b = bytes
        b[80] &+= 4
        b[88] &-= 4
        assertRejects(resealed(b), containing: "misaligned")
    }

    func testBadHeaderFieldsAreNamed() throws {
        let good = encode(try smallModel())
        var b = good
        b[0] = UInt8(ascii: "X")
        assertRejects(b, containing: "bad magic")
        b = good
        b[8] = 9
        assertRejects(resealed(b), containing: "version 9.\(ModelFileLayout.minorVersion)")
        b = good
        b[12] = 0x0A
        assertRejects(resealed(b), containing: "endianness")
        assertRejects(Array(good.prefix(100)), containing: "smaller than the 128-byte header")
        assertRejects(Array(good.prefix(good.count - 10)), containing: "truncated")
        assertRejects(good + [0, 0], containing: "truncated or padded")
        b = good
        b[b.count - 5] ^= 0x40
        assertRejects(b, containing: "checksum mismatch")
        b = good
        b[24 + 7] = 0x7F  // metadata offset far past the end
        assertRejects(resealed(b), containing: "metadata section")
        b = good
        b[56] &+= 3  // tensor directory moved: its entries no longer parse
        XCTAssertThrowsError(try decode(resealed(b)))
    }

    func testMismatchedWeightShapeIsReportedAtLoad() throws {
        var model = try smallModel()
        let index = model.graph.parameters.firstIndex { $0.name.hasSuffix("enc1.0.conv.weight") }!
        model.graph.parameters[index] = Parameter(name: model.graph.parameters[index].name, shape: [4, 2, 3, 3],
                                                  values: [Float](repeating: 0.1, count: 72))
        assertRejects(encode(model), containing: "enc1.0.conv")
    }

    func testForeignFilesAreRejected() {
        assertRejects(Array("\u{89}PNG\r\n\u{1A}\n".utf8) + [UInt8](repeating: 0, count: 200), containing: "bad magic")
        assertRejects([], containing: "smaller")
    }

    /// Random corruption, resealed so that it reaches the parsers behind the checksum: the reader must
    /// throw or return a valid model, never trap. (scripts/fuzz-model-file runs libFuzzer on the same entry.)
    func testFuzzedFilesNeverCrash() throws {
        let good = encode(try smallModel())
        var rng = SplitMix64(seed: 0xF022)
        var rejected = 0
        for _ in 0..<1500 {
            var b = good
            for _ in 0..<rng.int(1...4) {
                let position = rng.int(8...(b.count - 1))
                if (96..<100).contains(position) { continue }
                b[position] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.int(0...3) == 0 { b = Array(b.prefix(rng.int(128...b.count))) }
            do {
                _ = try decode(resealed(fixSize(b)))
            } catch {
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 100)
    }

    /// Keeps the header's file size consistent with a truncated buffer, to test the sections behind it.
    func fixSize(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        let n = UInt64(b.count)
        for i in 0..<8 { b[16 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        return b
    }

    func testAtomicWriteAndMappedRead() throws {
        let path = NSTemporaryDirectory() + "segrun-test-\(getpid()).segrun"
        defer { unlink(path) }
        let model = try smallModel()
        try FileIO.writeModel(model, to: path)
        XCTAssertEqual(try FileIO.readModel(path).graph, model.graph)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
        XCTAssertThrowsError(try FileIO.readModel(path + ".missing")) { error in
            XCTAssertTrue("\(error)".contains("cannot open"))
        }
        XCTAssertThrowsError(try FileIO.readModel(NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("directory"))
        }
    }
}
