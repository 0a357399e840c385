import XCTest
import Foundation
import Kernels
import KernelChecks
import EngineChecks
@testable import Engine

/// The optimized executor against the Float64 reference executor, for every preset's architecture.
///
/// Tolerance: the output's max abs error divided by its max abs value stays below 1e-4 with direct
/// convolution (igemm) and 2e-3 with the measured choice (which may pick Winograd F(4,3)/F(6,3), whose
/// per-layer errors are 2e-4 and 1e-3, see KernelChecks/Tolerances.swift).
final class ExecutorTests: XCTestCase {
    func testEveryPresetMatchesReferenceAtOddSizes() throws {
        // Image presets through the Segmenter; the 3D presets run in VolumeGraphTests.
        for (k, preset) in ArchitecturePreset.all.enumerated() where preset.config.spatialRank == 2 {
            let classes = k % 2 == 0 ? 1 : 3
            let config = TestModels.smallConfig(preset, classes: classes)
            var model = try Model(config: config)
            TestModels.randomizeNormalization(&model.graph, seed: UInt64(k))
            let segmenter = try Segmenter(model, threads: 1, policy: .forced(.igemm))
            let twoThreads = try Segmenter(model, threads: 2, policy: .forced(.igemm))
            for batch in [1, 3] {
                let x = TestModels.randomImage(TensorShape(batch: batch, channels: 1, height: 67, width: 45), seed: UInt64(100 + k))
                let got = try segmenter.logits(x)
                let got2 = try twoThreads.logits(x)
                XCTAssertTrue(zip(got, got2).allSatisfy { $0.data == $1.data }, "\(preset.name): 1 and 2 threads differ")
                let padded = TensorOps.padToMultiple(x, model.inputMultiple)
                let reference = try ReferenceExecutor.run(model.graph, [padded])
                XCTAssertEqual(got.count, reference.count)
                for (g, r) in zip(got, reference) {
                    let cropped = TensorOps.crop(r, height: 67, width: 45)
                    XCTAssertEqual(g.shape, cropped.shape)
                    let error = TestModels.normalizedError(g, cropped)
                    XCTAssertLessThan(error, 1e-4, "\(preset.name) batch \(batch): normalized error \(error)")
                }
            }
        }
    }

    /// Each algorithm gives bitwise-identical outputs for 1, 2 and 3 threads through the whole network,
    /// and Winograd stays within its tolerance of the reference.
    func testThreadCountsAreBitwiseEqualAndWinogradMatchesReference() throws {
        var config = try ArchitecturePreset.named("unet-s").config
        config.baseWidth = 8
        config.depth = 2
        var model = try Model(config: config)
        TestModels.randomizeNormalization(&model.graph, seed: 11)
        let x = TestModels.randomImage(TensorShape(batch: 2, channels: 1, height: 27, width: 45), seed: 12)
        let reference = TensorOps.crop(try ReferenceExecutor.run(model.graph, [TensorOps.padToMultiple(x, model.inputMultiple)])[0],
                                       height: 27, width: 45)
        for (algorithm, tolerance) in [(ConvAlgorithm.igemm, 1e-4), (.winograd(.f4), 2e-3), (.winogradNarrow, 2e-3)] {
            let one = try Segmenter(model, threads: 1, policy: .forced(algorithm)).logits(x)[0]
            for threads in [2, 3] {
                let many = try Segmenter(model, threads: threads, policy: .forced(algorithm)).logits(x)[0]
                XCTAssertTrue(one.data == many.data, "\(algorithm): 1 and \(threads) threads differ")
            }
            let error = TestModels.normalizedError(one, reference)
            XCTAssertLessThan(error, tolerance, "\(algorithm)")
        }
    }

    func testGraphPassesFoldNormalizationAndFuseActivations() throws {
        let model = try Model(config: ArchitectureConfig(architecture: .resUNet, baseWidth: 4, depth: 2))
        let optimized = model.graph.optimizedForInference()
        let kinds = optimized.nodes.map { $0.op.kind }
        XCTAssertFalse(kinds.contains("batch_norm"), "every BatchNorm follows a conv and folds")
        XCTAssertFalse(kinds.contains("relu"), "every ReLU fuses into its producer")
        XCTAssertLessThan(optimized.nodes.count, model.graph.nodes.count)
        XCTAssertLessThan(optimized.parameters.count, model.graph.parameters.count)
    }

    func testUNetPlusPlusFastModeEqualsItsHeadInTheFullGraph() throws {
        var config = ArchitectureConfig(architecture: .unetPlusPlus, baseWidth: 4, depth: 3, deepSupervision: true)
        config.seed = 3
        let model = try Model(config: config)
        XCTAssertEqual(model.graph.outputs.map { $0.name }, ["head1", "head2", "head3"])
        let x = TestModels.randomImage(TensorShape(channels: 1, height: 16, width: 24), seed: 5)
        let full = try Executor(model.graph, threads: 1, policy: .forced(.igemm)).run(x)
        let fast = model.graph.keepingOutputs(["head1"])
        XCTAssertLessThan(fast.nodes.count, model.graph.nodes.count / 2, "fast mode prunes the deeper columns")
        let pruned = try Executor(fast, threads: 1, policy: .forced(.igemm)).run(x)
        XCTAssertEqual(pruned[0].data, full[0].data)
    }

    func testMemoryPlannerNeverOverlapsLiveTensorsAndReuses() throws {
        let model = try Model(config: ArchitecturePreset.named("unet-s").config)
        let executor = try Executor(model.graph, threads: 1, policy: .forced(.igemm))
        let plan = try executor.plan([TensorShape(channels: 1, height: 64, width: 64)])
        XCTAssertLessThan(plan.arenaBytes, plan.unsharedActivationBytes / 2)
        // Check the placement directly.
        var lastUse = Array(0..<executor.graph.nodes.count)
        for (i, node) in executor.graph.nodes.enumerated() { for j in node.inputs { lastUse[j] = max(lastUse[j], i) } }
        for o in executor.graph.outputs { lastUse[o.node] = executor.graph.nodes.count }
        for a in 0..<plan.shapes.count {
            for b in (a + 1)..<plan.shapes.count where a <= lastUse[b] && b <= lastUse[a] {
                let ra = plan.offsets[a]..<(plan.offsets[a] + plan.shapes[a].elementCount)
                let rb = plan.offsets[b]..<(plan.offsets[b] + plan.shapes[b].elementCount)
                XCTAssertFalse(ra.overlaps(rb), "nodes \(a) and \(b) are alive together but share memory")
            }
        }
    }

    func testShapeErrorsNameTheNode() throws {
        let model = try Model(config: ArchitectureConfig(architecture: .unet, baseWidth: 4, depth: 2))
        let executor = try Executor(model.graph, threads: 1, policy: .forced(.igemm))
        XCTAssertThrowsError(try executor.run(Tensor(zeros: TensorShape(channels: 3, height: 8, width: 8)))) { error in
            XCTAssertTrue("\(error)".contains("channels"), "\(error)")
        }
        // 9x9 does not survive two 2x pools and the concat: the error names the node.
        XCTAssertThrowsError(try executor.run(Tensor(zeros: TensorShape(channels: 1, height: 9, width: 9)))) { error in
            XCTAssertTrue("\(error)".contains("dec"), "\(error)")
        }
    }
}

final class PresetTests: XCTestCase {
    /// models/README.md lists exactly the presets the code defines.
    func testModelsReadmeListsEveryPreset() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for preset in ArchitecturePreset.all {
            XCTAssertTrue(text.contains("| `\(preset.name)` |"), "models/README.md misses \(preset.name)")
        }
        let listed = text.components(separatedBy: "\n").filter { $0.hasPrefix("| `") }.count
        XCTAssertEqual(listed, ArchitecturePreset.all.count)
    }

    func testPresetsBuildValidGraphs() throws {
        for preset in ArchitecturePreset.all {
            let graph = try preset.config.build()
            let volume = preset.config.spatialRank == 3
            // Extents that are multiples of every preset's input multiple (unet3d-m: 32).
            let shapes = try graph.inferShapes([TensorShape(channels: 1, depth: volume ? 32 : nil, height: 64, width: volume ? 32 : 48)])
            for o in graph.outputs { XCTAssertEqual(shapes[o.node].spatial, volume ? [32, 64, 32] : [64, 48], preset.name) }
        }
        XCTAssertThrowsError(try ArchitecturePreset.named("unet-xxl"))
    }
}
