import XCTest
import Kernels
import KernelChecks
import EngineChecks
@testable import Engine
@testable import Train

/// Autograd gradients against central finite differences of the Float64 reference executor (BatchNorm
/// on batch statistics), for every architecture.
///
/// Tolerance: |autograd - numeric| <= 1e-3 x (|numeric| + the parameter's largest gradient). Autograd runs
/// in float32 through ~20 layers and training-mode BatchNorm; the difference quotient is computed in Float64
/// on unrounded outputs with the exact float step, h = 1e-4 of the weight's scale, and a coordinate where the
/// quotients at h and h/4 disagree (a ReLU or max-pool switch within h) is skipped and counted.
final class AutogradTests: XCTestCase {
    func smallModel(_ architecture: Architecture, classes: Int = 1, seed: UInt64) throws -> Graph {
        var config = ArchitectureConfig(architecture: architecture, classes: classes, baseWidth: 2, depth: 2, seed: seed)
        config.deepSupervision = architecture == .unetPlusPlus
        return try config.build()
    }

    /// Training runs activations inside their BatchNorm (`fuseActivations`): the same outputs and gradients,
    /// bit for bit, as running the nodes one by one, for every architecture and in both BatchNorm modes.
    func testFusedBatchNormActivationsGiveTheSameBits() throws {
        var rng = SplitMix64(seed: 0x7004)
        for (k, architecture) in Architecture.allCases.enumerated() where architecture != .vnet {  // V-Net: VolumeArchitectureTests
            var config = ArchitectureConfig(architecture: architecture, classes: 1, baseWidth: 16, depth: 2, seed: UInt64(k + 11))
            config.deepSupervision = architecture == .unetPlusPlus
            let graph = try config.build()
            let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 20, width: 12), data: rng.floats(2 * 20 * 12))
            for training in [true, false] {
                let plain = try Autograd(graph, threads: 2), fused = try Autograd(graph, threads: 2, fuseActivations: true)
                XCTAssertFalse(fused.fusedActivationNodes.isEmpty, "\(architecture): nothing fused")
                let a = try plain.forward([x], training: training), b = try fused.forward([x], training: training)
                XCTAssertEqual(a.map(\.data), b.map(\.data), "\(architecture) outputs")
                let r = a.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
                try plain.backward(r)
                try fused.backward(r)
                XCTAssertTrue(plain.gradients == fused.gradients, "\(architecture) gradients (training BatchNorm: \(training))")
            }
        }
    }

    func testGradientsMatchFiniteDifferencesForEveryArchitecture() throws {
        var rng = SplitMix64(seed: 0x7001)
        var checked = 0, kinks = 0
        for (k, architecture) in Architecture.allCases.enumerated() where architecture != .vnet {  // V-Net: VolumeArchitectureTests
            let graph = try smallModel(architecture, seed: UInt64(k + 1))
            let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 16, width: 12), data: rng.floats(2 * 16 * 12))
            let model = try Autograd(graph, threads: 1)
            let outputs = try model.forward([x])
            let r = outputs.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
            try model.backward(r)
            for p in model.learnableParameters where rng.int(0...1) == 0 || graph.parameters[p].name.hasSuffix("head.weight") {
                var scale: Float = 0
                for g in model.gradients[p] { scale = max(scale, abs(g)) }
                let i = rng.int(0...(graph.parameters[p].elementCount - 1))
                let w = graph.parameters[p].floats[i], h = max(abs(w), 0.05) * 1e-4
                let coarse = try difference(graph, p, i, h, x, r), fine = try difference(graph, p, i, h / 4, x, r)
                let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                if abs(coarse - fine) > tolerance {
                    kinks += 1  // a ReLU or max-pool switch lies within h: the quotient is not a derivative there
                    continue
                }
                checked += 1
                let analytic = Double(model.gradients[p][i])
                XCTAssertLessThanOrEqual(abs(analytic - fine), tolerance,
                                         "\(architecture) \(graph.parameters[p].name)[\(i)]: autograd \(analytic), finite difference \(fine)")
            }
        }
        XCTAssertGreaterThan(checked, 6 * kinks, "too many coordinates near a kink (\(kinks) of \(checked + kinks))")
    }

    func difference(_ graph: Graph, _ p: Int, _ i: Int, _ h: Float, _ x: Tensor, _ r: [Tensor]) throws -> Double {
        try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: true)
    }

    func testGradientsAreBitwiseEqualForOneAndTwoThreads() throws {
        let graph = try smallModel(.attentionUNet, classes: 3, seed: 5)
        var rng = SplitMix64(seed: 0x7002)
        let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 20, width: 16), data: rng.floats(2 * 20 * 16))
        var results: [[[Float]]] = []
        for threads in [1, 2] {
            let model = try Autograd(graph, threads: threads)
            let y = try model.forward([x])
            try model.backward([Tensor(shape: y[0].shape, data: y[0].data.map { $0 * 0.5 + 0.1 })])
            results.append(model.gradients)
        }
        XCTAssertTrue(results[0] == results[1])
    }

    func testTrainingModeBatchNormUpdatesRunningStatistics() throws {
        let graph = try smallModel(.unet, seed: 2)
        let model = try Autograd(graph, threads: 1)
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 8, width: 8), data: rng.floats(128).map { $0 * 3 + 1 })
        _ = try model.forward([x])
        let bn = graph.nodes.first { if case .batchNorm = $0.op { return true } else { return false } }!
        guard case .batchNorm(let a) = bn.op else { return }
        XCTAssertNotEqual(model.parameter(a.mean), graph.parameters[a.mean].floats)
        let before = model.parameter(a.mean)
        _ = try model.forward([x], training: false)
        XCTAssertEqual(model.parameter(a.mean), before, "evaluation mode leaves the running statistics alone")
    }
}
