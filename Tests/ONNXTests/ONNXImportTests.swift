import Engine
import Foundation
@testable import ONNX
import XCTest

/// Imports the ONNX files that PyTorch wrote in Fixtures/ (Benchmarks/peers/onnx_fixtures.py: plain U-Nets,
/// MONAI's UNet, BasicUNet, AttentionUnet, 3D UNet and SegResNet, a ResNet-encoder U-Net, hand-built graphs)
/// and checks segrun's outputs against ONNX Runtime's on the same seeded input.
final class ONNXImportTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static let models = ["plain_bilinear", "plain_align_corners", "plain_tconv", "plain_dynamo", "resnet_unet", "monai_unet",
                         "monai_basicunet", "monai_attentionunet", "monai_unet3d", "monai_segresnet3d", "float16_typed", "external_data", "smp_fpn_psp"]

    /// Tolerance: the largest difference over the largest magnitude of ONNX Runtime's output (issue 20's
    /// figure). Both compute in float32; segrun's Winograd F(4x4,3x3) layers differ from ONNX Runtime's
    /// direct sums by up to ~1e-5 of the output's range, fused BatchNorm and summation order by less.
    static let tolerance: Float = 1e-4

    func imported(_ name: String, size: [Int]? = nil) throws -> ONNXImport {
        try ONNXImporter.importFile("\(fixtures)/\(name).onnx", options: ONNXImportOptions(size: size))
    }

    func testEveryModelAgreesWithONNXRuntime() throws {
        for name in Self.models {
            let x = try TensorFile.read("\(fixtures)/\(name).input.sgtn")
            let expected = try TensorFile.read("\(fixtures)/\(name).output.sgtn")
            let result = try imported(name, size: x.shape.spatial)
            let y = try Executor(model: result.model, threads: 1).run(x)[0]
            XCTAssertEqual(y.shape, expected.shape, name)
            let scale = expected.data.map { abs($0) }.max()!
            XCTAssertGreaterThan(scale, 0, "\(name): the reference output is all zeros")
            var worst: Float = 0
            for i in 0..<y.data.count { worst = max(worst, abs(y.data[i] - expected.data[i])) }
            XCTAssertLessThanOrEqual(worst / scale, Self.tolerance, "\(name): max difference \(worst) of \(scale)")
            // The same bits on two threads, and after a round trip through a model file.
            let y2 = try Executor(model: result.model, threads: 2).run(x)[0]
            XCTAssertEqual(y.data, y2.data, "\(name): 1 and 2 threads differ")
            let path = NSTemporaryDirectory() + "onnx-\(name)-\(getpid()).segrun"
            defer { unlink(path) }
            try FileIO.writeModel(result.model, to: path)
            let reread = try FileIO.readModel(path)
            XCTAssertEqual(try Executor(model: reread, threads: 1).run(x)[0].data, y.data, "\(name): model file round trip")
        }
    }

    func testImportedModelsRunAtOtherSizes() throws {
        // Imported at one size, a fully convolutional model runs at any multiple of its input multiple.
        let result = try imported("plain_bilinear", size: [16, 16])
        XCTAssertEqual(result.model.inputMultiple, 4)
        XCTAssertNil(result.model.inputSize)
        let y = try Executor(model: result.model, threads: 1).run(Tensor(shape: TensorShape(channels: 1, height: 24, width: 40), data: (0..<960).map { Float($0 % 7) / 7 }))[0]
        XCTAssertEqual(y.shape, TensorShape(channels: 2, height: 24, width: 40))
        XCTAssertEqual(try imported("resnet_unet", size: [32, 32]).model.inputMultiple, 8)
    }

    func testMetadataFromOptions() throws {
        let options = ONNXImportOptions(size: [16, 16], mean: [0.5], std: [0.25], classNames: ["background", "brain"], threshold: 0.4)
        let model = try ONNXImporter.importFile("\(fixtures)/plain_bilinear.onnx", options: options).model
        XCTAssertEqual(model.metadata[MetadataKey.inputMean], .floats([0.5]))
        XCTAssertEqual(model.metadata[MetadataKey.inputStd], .floats([0.25]))
        XCTAssertEqual(model.metadata[MetadataKey.classNames], .strings(["background", "brain"]))
        XCTAssertEqual(model.classes, 2)
        XCTAssertThrowsError(try ONNXImporter.importFile("\(fixtures)/plain_bilinear.onnx", options: ONNXImportOptions(size: [16, 16], classNames: ["one"])))
    }

    func testBadFilesGiveOneLineErrors() throws {
        let cases: [(String, [Int]?, String)] = [
            ("bad_unsupported_op", nil, "node 'the_tanh' (Tanh): segrun has no such operator"),
            ("bad_cycle", nil, "reads 'z', which no earlier node"),
            ("bad_data_length", nil, "need 12 bytes of float, the data has 8"),
            ("bad_external_outside", nil, "points outside the model's folder"),
            ("dynamic_needs_size", nil, "give the size to resolve them at"),
            ("plain_bilinear", [16], "--size gives 1 axes"),
            ("bad_stack_axis", nil, "only the sum over axis 0 without keepdims is supported"),
        ]
        for (name, size, expected) in cases {
            do {
                _ = try imported(name, size: size)
                XCTFail("\(name) imported")
            } catch {
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(name): \(text)")
            }
        }
        XCTAssertThrowsError(try ONNXImporter.importFile("\(fixtures)/missing.onnx"))
        XCTAssertThrowsError(try ONNXModel(bytes: Array("not an onnx file at all".utf8)))
        XCTAssertThrowsError(try ONNXModel(bytes: []))
    }

    /// Truncations, byte flips and insertions of real files: every outcome is an import or an ONNXError.
    func testFuzzedFilesNeverCrash() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var errors = 0, imports = 0
        for name in ["plain_tconv", "monai_unet", "monai_segresnet3d", "float16_typed", "resnet_unet", "smp_fpn_psp"] {
            let original = [UInt8](FileManager.default.contents(atPath: "\(fixtures)/\(name).onnx")!)
            for trial in 0..<120 {
                var bytes = original
                switch trial % 4 {
                case 0: bytes = Array(bytes.prefix(next() % bytes.count))
                case 1: for _ in 0..<(1 + next() % 8) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
                case 2: bytes.insert(contentsOf: (0..<(1 + next() % 6)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: next() % bytes.count)
                default: for _ in 0..<(1 + next() % 3) { bytes[next() % bytes.count] ^= UInt8(1 << (next() % 8)) }
                }
                do {
                    let model = try ONNXModel(bytes: bytes)
                    _ = try ONNXImporter.importModel(model, directory: fixtures, options: ONNXImportOptions(size: name.hasSuffix("3d") ? [8, 8, 8] : name == "smp_fpn_psp" ? [24, 24] : [16, 16]))
                    imports += 1
                } catch {
                    errors += 1
                }
            }
        }
        XCTAssertGreaterThan(errors, 100)
        print("fuzzed ONNX files: \(errors) errors, \(imports) imports")
    }
}
