import XCTest
import Foundation
import Kernels
import KernelChecks
import EngineChecks
@testable import Engine
@testable import Train

/// A U-Net's deep supervision (nnU-Net's): auxiliary heads on decoder levels 1 ... depth - 2, resized to the
/// input, weighed into the loss by level, dropped by inference and export.
final class DeepSupervisionTests: XCTestCase {
    func unet(rank: Int, depth: Int, seed: UInt64) throws -> Graph {
        var config = ArchitectureConfig(architecture: .unet, classes: 1, baseWidth: 2, depth: depth, deepSupervision: true, rank: rank, seed: seed)
        config.normalization = .batch
        return try config.build()
    }

    func testUNetHasAuxiliaryOutputsBeforeLogits() throws {
        XCTAssertEqual(try unet(rank: 2, depth: 4, seed: 1).outputs.map(\.name), ["aux1", "aux2", "logits"])
        XCTAssertEqual(try unet(rank: 3, depth: 3, seed: 1).outputs.map(\.name), ["aux1", "logits"])
        XCTAssertThrowsError(try unet(rank: 2, depth: 2, seed: 1), "depth 2 has no level to supervise")
        var vnet = ArchitectureConfig(architecture: .vnet, classes: 1, baseWidth: 4, depth: 2, deepSupervision: true, rank: 3)
        vnet.normalization = .batch
        XCTAssertThrowsError(try vnet.build())
    }

    /// nnU-Net's weights: logits 1, aux1 1/2, aux2 1/4, normalized; equal heads average (dividing by n, so a
    /// model without auxiliary outputs trains with the same bits as before).
    func testLossSharesHalvePerLevel() {
        let outputs = ["aux1", "aux2", "logits"].enumerated().map { GraphOutput(name: $1, node: $0) }
        XCTAssertEqual(DeepSupervision.shares(outputs).map(\.value), [2.0 / 7, 1.0 / 7, 4.0 / 7])
        XCTAssertEqual(DeepSupervision.inferenceOutputs(outputs), [2])
        let heads = (1...3).map { GraphOutput(name: "head\($0)", node: $0) }
        XCTAssertEqual(DeepSupervision.shares(heads), Array(repeating: DeepSupervision.Share(numerator: 1, denominator: 3), count: 3))
        var rng = SplitMix64(seed: 9)
        let g = Tensor(shape: TensorShape(batch: 1, channels: 1, height: 5, width: 7), data: rng.floats(35))
        XCTAssertEqual(DeepSupervision.shares(heads)[0].of(g).data, g.data.map { $0 / 3 })
        XCTAssertEqual(DeepSupervision.shares(heads)[0].of(0.9), 0.9 / 3)
        XCTAssertEqual(GraphOutput(name: "auxiliary", node: 0).auxiliaryLevel, nil)
        XCTAssertEqual(GraphOutput(name: "aux0", node: 0).auxiliaryLevel, nil)
    }

    /// Inference runs `logits` alone, with the bits of the graph cut to it; the ONNX export has one output.
    func testInferenceAndExportDropTheAuxiliaryHeads() throws {
        var rng = SplitMix64(seed: 0x5D5)
        for (rank, shape) in [(2, TensorShape(batch: 2, channels: 1, height: 32, width: 16)),
                              (3, TensorShape(batch: 1, channels: 1, depth: 8, height: 16, width: 24))] {
            let graph = try unet(rank: rank, depth: rank == 2 ? 4 : 3, seed: UInt64(rank))
            let x = Tensor(shape: shape, data: rng.floats(shape.elementCount))
            let y = try Executor(graph, threads: 2, policy: .forced(.igemm)).run(x)
            let cut = try Executor(graph.keepingOutputs(["logits"]), threads: 2, policy: .forced(.igemm)).run(x)
            XCTAssertEqual(y.count, 1, "rank \(rank)")
            XCTAssertEqual(y[0].data, cut[0].data, "rank \(rank)")
            XCTAssertLessThan(graph.optimizedForInference().nodes.count, graph.nodes.count)
        }
    }

    /// Gradients through the auxiliary heads (1x1 conv, resize to the input) and the trunk they join, against
    /// central finite differences of the Float64 reference (tolerance as AutogradTests).
    func testGradientsMatchFiniteDifferences() throws {
        var rng = SplitMix64(seed: 0x5D6)
        var checked = 0, kinks = 0
        for (rank, shape) in [(2, TensorShape(batch: 2, channels: 1, height: 16, width: 24)),
                              (3, TensorShape(batch: 2, channels: 1, depth: 8, height: 8, width: 16))] {
            let graph = try unet(rank: rank, depth: 3, seed: UInt64(7 + rank))
            let x = Tensor(shape: shape, data: rng.floats(shape.elementCount))
            let model = try Autograd(graph, threads: 1)
            let outputs = try model.forward([x])
            XCTAssertEqual(outputs.map(\.shape), outputs.map { _ in TensorShape(batch: shape.batch, channels: 1, depth: shape.depth, height: shape.height, width: shape.width) })
            let r = outputs.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
            try model.backward(r)
            for p in model.learnableParameters where graph.parameters[p].name.hasPrefix("aux") || rng.int(0...3) == 0 {
                var scale: Float = 0
                for g in model.gradients[p] { scale = max(scale, abs(g)) }
                let i = rng.int(0...(graph.parameters[p].elementCount - 1))
                let w = graph.parameters[p].floats[i], h = max(abs(w), 0.05) * 1e-4
                let coarse = try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: true)
                let fine = try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h / 4, input: x, weights: r, batchStatistics: true)
                let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                if abs(coarse - fine) > tolerance { kinks += 1; continue }
                checked += 1
                XCTAssertLessThanOrEqual(abs(Double(model.gradients[p][i]) - fine), tolerance,
                                         "rank \(rank) \(graph.parameters[p].name)[\(i)]")
            }
        }
        XCTAssertGreaterThan(checked, 6 * kinks, "too many coordinates near a kink (\(kinks) of \(checked + kinks))")
    }

    /// A 3D U-Net with deep supervision learns on patches (its loss falls), and its checkpoint keeps the
    /// auxiliary head (for resuming) while inference runs the one output it keeps.
    func testPatchTrainingWithDeepSupervision() throws {
        var d = PatchTrainingTests.data(size: [24, 24, 24])
        try d.split(.slab(from: 0.34, to: 0.66))
        var config = try ArchitecturePreset.named("unet3d-xs").config
        config.classes = 1
        config.seed = 5
        config.deepSupervision = true
        let model = try Model(config: config, preset: "unet3d-xs")
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 2
        options.learningRate = 3e-3
        options.threads = 2
        options.seed = 4
        let root = NSTemporaryDirectory() + "/segrun-deep-supervision-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var records: [EpochRecord] = []
        try PatchTrainer(model: model, data: d, patch: [8, 16, 16], patchesPerEpoch: 12, augmentation: PatchAugmentation(), options: options)
            .run(directory: root, resume: false) { if case .epochDone(let r, _) = $0 { records.append(r) } }
        XCTAssertLessThan(records[1].trainLoss, records[0].trainLoss)
        let saved = try FileIO.readModel(root + "/last.segrun")
        XCTAssertEqual(saved.graph.outputs.map(\.name), ["aux1", "logits"])
        let segmenter = try Segmenter(saved, threads: 2)
        let x = Tensor(shape: TensorShape(batch: 1, channels: 1, depth: 8, height: 16, width: 16), data: (0..<2048).map { Float(sin(0.3 * Double($0))) })
        XCTAssertEqual(try segmenter.logits(x).count, 1)
    }
}
