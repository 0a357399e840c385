import XCTest
import Kernels
import KernelChecks
import EngineChecks
@testable import Engine
@testable import Train

/// The operators added through the registry (clip, PReLU, constant pad, GroupNorm/InstanceNorm, resizing by
/// any factor, global max pooling, UNet 3+'s presence gate), each in a
/// small graph `conv 3x3 -> op -> conv 1x1` at odd sizes and odd channel counts:
/// - the fp32 executor against the Float64 reference: max abs error / max abs output <= 1e-5, the same bits
///   for 1 and 2 threads;
/// - training's forward equal to the executor's within 1e-5 (normalized);
/// - every parameter's gradient (the op's own and the convolutions') against central finite differences of
///   the Float64 reference: |autograd - numeric| <= 1e-3 x (|numeric| + the parameter's largest gradient),
///   skipping coordinates where the quotients at h and h/4 disagree (a clip or ReLU kink within h);
/// - the model file round trip (format 2 names the op and its attributes) gives the same graph.
final class OperatorFamilyTests: XCTestCase {
    struct Case {
        let name: String
        let build: (GraphBuilder, Value) -> Value
    }

    let cases: [Case] = [
        Case(name: "clip") { b, x in b.clip(x, low: -0.3, high: 0.4, name: "clip") },
        Case(name: "prelu") { b, x in b.prelu(x, name: "prelu") },
        Case(name: "prelu-shared") { b, x in b.prelu(x, perChannel: false, name: "prelu") },
        Case(name: "pad") { b, x in b.pad(x, [1, 0, 2, 3], value: 0.25, name: "pad") },
        Case(name: "group-norm") { b, x in b.groupNorm(x, groups: 2, name: "gn") },
        Case(name: "instance-norm") { b, x in b.instanceNorm(x, name: "in") },
        Case(name: "resize-linear") { b, x in b.resize(x, factors: [1.5, 0.75], name: "resize") },
        Case(name: "resize-linear-corners") { b, x in b.resize(x, factors: [0.5, 2.25], mode: .bilinear(alignCorners: true), name: "resize") },
        Case(name: "resize-nearest") { b, x in b.resize(x, factors: [2.5, 0.5], mode: .nearest, name: "resize") },
        Case(name: "global-max-pool") { b, x in b.globalMaxPool(x, name: "gmp") },
        // Presence logits from the features themselves: random signs open some channels of each image, close others.
        Case(name: "presence-gate") { b, x in
            b.presenceGate(x, presence: b.globalMaxPool(b.conv(x, 5, kernel: 1, name: "presence"), name: "gmp"), firstGated: 1, name: "gate")
        },
        Case(name: "presence-gate-all") { b, x in
            b.presenceGate(x, presence: b.globalMaxPool(b.conv(x, 6, kernel: 1, name: "presence"), name: "gmp"), firstGated: 0, name: "gate")
        },
    ]

    func graph(_ c: Case, seed: UInt64) -> Graph {
        let b = GraphBuilder(seed: seed)
        let x = b.input("image", channels: 3)
        let y = c.build(b, b.conv(x, 6, kernel: 3, name: "conv1"))
        b.output("logits", b.conv(y, 2, kernel: 1, name: "head"))
        var g = b.graph
        // Non-trivial op parameters (the builder starts at PyTorch's defaults).
        var rng = SplitMix64(seed: seed &+ 99)
        for (i, p) in g.parameters.enumerated() where !p.name.hasPrefix("conv1") && !p.name.hasPrefix("head") {
            g.parameters[i].data = .f32(p.floats.map { $0 + 0.3 * rng.floats(1)[0] })
        }
        return g
    }

    func testExecutorMatchesReferenceAndThreadCountsAgree() throws {
        var rng = SplitMix64(seed: 0x0F01)
        for (k, c) in cases.enumerated() {
            let g = graph(c, seed: UInt64(k + 1))
            let x = Tensor(shape: TensorShape(batch: 2, channels: 3, height: 13, width: 7), data: rng.floats(2 * 3 * 13 * 7))
            let one = try Executor(g, threads: 1, policy: .forced(.igemm)).run(x)[0]
            let two = try Executor(g, threads: 2, policy: .forced(.igemm)).run(x)[0]
            XCTAssertTrue(one.data == two.data, "\(c.name): 1 and 2 threads differ")
            let reference = try ReferenceExecutor.run(g, [x])[0]
            XCTAssertEqual(one.shape, reference.shape, c.name)
            XCTAssertLessThan(normalizedError(one.data, reference.data), 1e-5, c.name)
            let training = try Autograd(g, threads: 2).forward([x])[0]
            XCTAssertLessThan(normalizedError(training.data, reference.data), 1e-5, "\(c.name) training forward")
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        var rng = SplitMix64(seed: 0x0F02)
        var checked = 0, kinks = 0
        for (k, c) in cases.enumerated() {
            let g = graph(c, seed: UInt64(k + 11))
            let x = Tensor(shape: TensorShape(batch: 2, channels: 3, height: 9, width: 7), data: rng.floats(2 * 3 * 9 * 7))
            let model = try Autograd(g, threads: 1)
            let y = try model.forward([x])
            let r = y.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
            try model.backward(r)
            for p in model.learnableParameters {
                var scale: Float = 0
                for v in model.gradients[p] { scale = max(scale, abs(v)) }
                for _ in 0..<3 {
                    let i = rng.int(0...(g.parameters[p].elementCount - 1))
                    let w = g.parameters[p].floats[i], h = max(abs(w), 0.05) * 1e-4
                    let coarse = try difference(g, p, i, h, x, r), fine = try difference(g, p, i, h / 4, x, r)
                    let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                    if abs(coarse - fine) > tolerance { kinks += 1; continue }
                    checked += 1
                    let analytic = Double(model.gradients[p][i])
                    XCTAssertLessThanOrEqual(abs(analytic - fine), tolerance,
                                             "\(c.name) \(g.parameters[p].name)[\(i)]: autograd \(analytic), finite difference \(fine)")
                }
            }
        }
        XCTAssertGreaterThan(checked, 6 * kinks, "too many coordinates near a kink (\(kinks) of \(checked + kinks))")
    }

    func testModelFileRoundTripKeepsEveryOp() throws {
        for (k, c) in cases.enumerated() {
            let g = graph(c, seed: UInt64(k + 21))
            let bytes = ModelFileWriter.encode(Model(metadata: Metadata(), graph: g))
            let back = try bytes.withUnsafeBytes { try ModelFileReader.decode($0) }
            XCTAssertEqual(back.graph, g, c.name)
        }
    }

    func testBadAttributesAreRejectedWithTheNodeName() throws {
        let b = GraphBuilder(seed: 1)
        let x = b.input("image", channels: 3)
        b.output("y", b.groupNorm(b.conv(x, 6, kernel: 3, name: "conv"), groups: 4, name: "gn"))
        XCTAssertThrowsError(try b.graph.inferShapes([TensorShape(channels: 3, height: 5, width: 5)])) {
            XCTAssertTrue("\($0)".contains("gn") && "\($0)".contains("groups"), "\($0)")
        }
        let c = GraphBuilder(seed: 1)
        let y = c.input("image", channels: 3)
        c.output("y", c.pad(y, [1, -1, 0, 0], name: "pad"))
        XCTAssertThrowsError(try c.graph.inferShapes([TensorShape(channels: 3, height: 5, width: 5)])) {
            XCTAssertTrue("\($0)".contains("pad"), "\($0)")
        }
    }

    func difference(_ graph: Graph, _ p: Int, _ i: Int, _ h: Float, _ x: Tensor, _ r: [Tensor]) throws -> Double {
        try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: false)
    }
}

/// Max abs error over max abs reference value.
func normalizedError(_ a: [Float], _ b: [Float]) -> Double {
    var error = 0.0, scale = 0.0
    for (u, v) in zip(a, b) {
        error = max(error, abs(Double(u) - Double(v)))
        scale = max(scale, abs(Double(v)))
    }
    return error / max(scale, 1e-12)
}

/// `--se`: squeeze-and-excitation blocks in U-Net, Res-UNet and Attention U-Net: the executor against the
/// reference (normalized error <= 1e-4, igemm) and the gradients of the SE convolutions against finite
/// differences (the tolerance of `OperatorFamilyTests`).
final class SqueezeExcitationTests: XCTestCase {
    func testSEBlocksRunAndDifferentiate() throws {
        var rng = SplitMix64(seed: 0x5E01)
        for (k, architecture) in [Architecture.unet, .resUNet, .attentionUNet].enumerated() {
            var config = ArchitectureConfig(architecture: architecture, classes: 2, baseWidth: 4, depth: 2, seed: UInt64(k + 1))
            config.squeezeExcitation = true
            let graph = try config.build()
            let gates = graph.nodes.filter { $0.name.hasSuffix(".se.scale") }
            XCTAssertEqual(gates.count, 2 * config.depth + 1, "\(architecture): one SE block per level block")
            let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 12, width: 8), data: rng.floats(2 * 12 * 8))
            let got = try Executor(graph, threads: 2, policy: .forced(.igemm)).run(x)[0]
            let reference = try ReferenceExecutor.run(graph, [x])[0]
            XCTAssertLessThan(normalizedError(got.data, reference.data), 1e-4, "\(architecture)")
            let model = try Autograd(graph, threads: 1)
            let y = try model.forward([x])
            let r = y.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
            try model.backward(r)
            for (p, parameter) in graph.parameters.enumerated() where parameter.name.contains(".se.fc") && parameter.name.hasSuffix("weight") {
                var scale: Float = 0
                for v in model.gradients[p] { scale = max(scale, abs(v)) }
                let i = rng.int(0...(parameter.elementCount - 1))
                let h = max(abs(parameter.floats[i]), 0.05) * 1e-4
                let fine = try trainingDifference(graph, p, i, h / 4, x, r), coarse = try trainingDifference(graph, p, i, h, x, r)
                let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                if abs(coarse - fine) > tolerance { continue }
                XCTAssertLessThanOrEqual(abs(Double(model.gradients[p][i]) - fine), tolerance, "\(architecture) \(parameter.name)[\(i)]")
            }
        }
        var unsupported = ArchitectureConfig(architecture: .pspnet)
        unsupported.squeezeExcitation = true
        XCTAssertThrowsError(try unsupported.build())
    }
}

/// The difference quotient with BatchNorm on batch statistics, as training computes it.
private func trainingDifference(_ graph: Graph, _ p: Int, _ i: Int, _ h: Float, _ x: Tensor, _ r: [Tensor]) throws -> Double {
    try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: true)
}
