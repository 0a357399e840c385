import XCTest
import Kernels
import KernelChecks
import EngineChecks
@testable import Engine
@testable import Train

/// Training on volumes (N, C, D, H, W): every operator with a 3D window, through the 2D kernels with the depth
/// taps stacked as channels (`DepthStacking`) or the separable depth stages of pooling and resizing. Forward
/// outputs against the Float64 reference; gradients against central finite differences of it (same tolerance
/// and kink rule as `AutogradTests`); the same bits on 1 and 2 threads.
final class VolumeAutogradTests: XCTestCase {
    /// Odd sizes, anisotropic windows, depth strides, dilation and padding, every 3D operator training sees.
    static func edgeNet(seed: UInt64) -> Graph {
        let b = GraphBuilder(seed: seed)
        let x = b.input("volume", channels: 2, spatialRank: 3)
        let c1 = b.prelu(b.conv(x, 3, kernel: [3, 3, 3], name: "c1"), name: "act1")
        let c2 = b.conv(c1, 4, kernel: [3, 3, 3], stride: [2, 1, 1], dilation: [2, 1, 1], padding: [3, 1, 1], bias: false, name: "c2")
        let n2 = b.relu(b.batchNorm(c2, name: "bn2"))
        let p1 = b.maxPool(n2, kernel: [3, 2, 2], stride: [2, 2, 2], name: "p1")
        let a1 = b.averagePool(c1, kernel: [2, 1, 1], stride: [1, 1, 1], name: "a1")
        let flat = b.conv(a1, 3, kernel: [1, 3, 3], name: "inplane")
        let deep = b.conv(flat, 3, kernel: [3, 1, 1], padding: [1, 0, 0], name: "through")
        let u1 = b.convTranspose(p1, 3, kernel: [3, 2, 2], stride: [2, 2, 2], padding: [1, 0, 0], outputPadding: [1, 0, 0], name: "u1")
        let u2 = b.convTranspose(u1, 2, kernel: 2, stride: 2, name: "u2")
        let r1 = b.resize(u2, like: deep, mode: .bilinear(alignCorners: false), name: "r1")
        let cat = b.concat([deep, r1], name: "cat")
        let padded = b.pad(cat, [1, 0, 2, 0, 1, 0], value: 0.25, name: "pad")
        let g = b.instanceNorm(b.conv(padded, 4, kernel: [2, 2, 2], stride: [2, 2, 2], bias: false, name: "down"), name: "in")
        let up = b.resize(g, factors: [2, 1.5, 2], mode: .nearest, name: "near")
        let tri = b.resize(b.leakyRelu(g), factors: [1.5, 2, 1], mode: .bilinear(alignCorners: true), name: "tri")
        let head = b.conv(up, 3, kernel: 1, name: "head")
        b.output("head", head)
        b.output("tri", b.mul(tri, b.sigmoid(b.conv(b.adaptiveAveragePool(tri, bins: 1, name: "squeeze"), 4, kernel: 1, name: "se")), name: "excite"))
        return b.graph
    }

    static func input(_ rng: inout SplitMix64, batch: Int = 2, depth: Int = 7, height: Int = 6, width: Int = 5) -> Tensor {
        let shape = TensorShape(batch: batch, channels: 2, depth: depth, height: height, width: width)
        return Tensor(shape: shape, data: rng.floats(shape.elementCount))
    }

    /// Training's forward (batch statistics) against the Float64 reference with batch statistics: 1e-5
    /// relative to each output's range.
    func testForwardMatchesTheReference() throws {
        var rng = SplitMix64(seed: 0x3D01)
        let graph = Self.edgeNet(seed: 1), x = Self.input(&rng)
        let tape = try Autograd(graph, threads: 2)
        let got = try tape.forward([x])
        let expected = try ReferenceExecutor.run(graph, [x], batchStatistics: true)
        for (y, e) in zip(got, expected) {
            XCTAssertEqual(y.shape, e.shape)
            var range: Float = 0, error: Float = 0
            for k in 0..<e.data.count { range = max(range, abs(e.data[k])); error = max(error, abs(y.data[k] - e.data[k])) }
            XCTAssertLessThan(error, 1e-5 * range, "\(e.shape)")
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        var rng = SplitMix64(seed: 0x3D02)
        let graph = Self.edgeNet(seed: 2), x = Self.input(&rng)
        let tape = try Autograd(graph, threads: 1)
        tape.stackingBlockFloats = 1  // one stacked slice at a time: every block boundary of the stacked convolutions
        let outputs = try tape.forward([x])
        let r = outputs.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
        try tape.backward(r)
        var checked = 0, kinks = 0, parametersChecked = Set<String>()
        for p in tape.learnableParameters {
            var scale: Float = 0
            for g in tape.gradients[p] { scale = max(scale, abs(g)) }
            for _ in 0..<3 {
                let i = rng.int(0...(graph.parameters[p].elementCount - 1))
                let w = graph.parameters[p].floats[i], h = max(abs(w), 0.05) * 1e-4
                let coarse = try difference(graph, p, i, h, x, r), fine = try difference(graph, p, i, h / 4, x, r)
                let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                if abs(coarse - fine) > tolerance { kinks += 1; continue }
                checked += 1
                parametersChecked.insert(graph.parameters[p].name)
                let analytic = Double(tape.gradients[p][i])
                XCTAssertLessThanOrEqual(abs(analytic - fine), tolerance,
                                         "\(graph.parameters[p].name)[\(i)]: autograd \(analytic), finite difference \(fine)")
            }
        }
        XCTAssertGreaterThan(checked, 6 * kinks, "too many coordinates near a kink (\(kinks) of \(checked + kinks))")
        for name in ["c1.weight", "c2.weight", "through.weight", "inplane.weight", "u1.weight", "u2.weight", "down.weight"] {
            XCTAssertTrue(parametersChecked.contains(name), "\(name) was not checked: \(parametersChecked.sorted())")
        }
    }

    func difference(_ graph: Graph, _ p: Int, _ i: Int, _ h: Float, _ x: Tensor, _ r: [Tensor]) throws -> Double {
        try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: true)
    }

    func testGradientsAreBitwiseEqualForOneAndTwoThreads() throws {
        var rng = SplitMix64(seed: 0x3D03)
        let graph = Self.edgeNet(seed: 3), x = Self.input(&rng, batch: 1, depth: 9)
        var results: [[[Float]]] = []
        for threads in [1, 2] {
            let tape = try Autograd(graph, threads: threads)
            tape.stackingBlockFloats = 200  // a few stacked slices per block
            let y = try tape.forward([x])
            try tape.backward(y.map { Tensor(shape: $0.shape, data: $0.data.map { $0 * 0.5 + 0.1 }) })
            results.append(tape.gradients)
        }
        XCTAssertTrue(results[0] == results[1])
    }

    /// A 3D convolution stacks its depth taps a block of output slices at a time (`StackedBlocks`): the forward
    /// outputs and the input gradients have the bits of one block over every slice; the weight gradients, summed
    /// block by block, agree within 1e-6 of each parameter's largest entry.
    func testStackingInBlocksMatchesOneBlock() throws {
        var rng = SplitMix64(seed: 0x3D05)
        let graph = Self.edgeNet(seed: 5), x = Self.input(&rng, batch: 2, depth: 9)
        var outputs: [[Tensor]] = [], gradients: [[[Float]]] = [], inputGradients: [Tensor] = []
        for floats in [Int.max / 2, 1, 300] {
            let tape = try Autograd(graph, threads: 2)
            tape.stackingBlockFloats = floats
            let y = try tape.forward([x])
            let c1 = graph.nodes.firstIndex { $0.name == "c1" }!
            let captured = try tape.backward(y.map { Tensor(shape: $0.shape, data: $0.data.map { $0 * 0.5 - 0.2 }) }, capturing: c1)
            outputs.append(y)
            gradients.append(tape.gradients)
            inputGradients.append(captured!)
        }
        for k in 1..<outputs.count {
            XCTAssertTrue(zip(outputs[0], outputs[k]).allSatisfy { $0.data == $1.data }, "forward bits, blocks \(k)")
            XCTAssertEqual(inputGradients[0].data, inputGradients[k].data, "gradient reaching c1, blocks \(k)")
            for (p, (a, b)) in zip(gradients[0], gradients[k]).enumerated() {
                let scale = a.map(abs).max() ?? 0
                let error = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(error, 1e-6 * scale + 1e-12, "\(graph.parameters[p].name), blocks \(k)")
            }
        }
    }

    /// Training frees each BatchNorm, concatenation and cheap convolution output once the forward nodes reading it have run and
    /// recomputes it when a backward reads it (`RecomputedActivations`), and the backward releases each output
    /// once no backward still to run reads it (`ReleasedActivations`): the gradients have the bits of keeping
    /// every output, on a 3D U-Net (BatchNorm + ReLU blocks, skip connections) and on the edge net, the outputs
    /// really are freed, and a second step after a releasing backward gives the first step's bits again.
    func testRecomputedAndReleasedOutputsGiveTheSameGradients() throws {
        var config = try ArchitecturePreset.named("unet3d-xs").config
        config.seed = 11
        var rng = SplitMix64(seed: 0x3D06)
        let unet = try config.build()
        let cases: [(Graph, Tensor)] = [
            (unet, Tensor(shape: TensorShape(batch: 2, channels: 1, depth: 8, height: 16, width: 16), data: rng.floats(2 * 8 * 16 * 16))),
            (Self.edgeNet(seed: 6), Self.input(&rng)),
        ]
        for (c, (graph, x)) in cases.enumerated() {
            var gradients: [[[Float]]] = []
            let concatenations = graph.nodes.indices.filter { if case .concat = graph.nodes[$0].op { return true } else { return false } }
            // The first convolution reads the one-channel volume: cheap to redo (`RecomputedActivations.cheapConvolution`).
            let firstConvolution = graph.nodes.indices.first { if case .conv2d = graph.nodes[$0].op { return true } else { return false } }!
            for (recompute, release) in [(false, false), (true, false), (false, true), (true, true)] {
                let tape = try Autograd(graph, threads: 2, fuseActivations: true)
                tape.recomputeActivations = recompute
                tape.releaseActivations = release
                for step in 0..<2 {
                    tape.zeroGradients()
                    let y = try tape.forward([x])
                    let freed = tape.stored.indices.filter { tape.stored[$0].isEmpty && tape.shapes[$0].elementCount > 0 }
                    if recompute {
                        XCTAssertFalse(freed.isEmpty, "no BatchNorm output was freed")
                        if c == 0 {
                            XCTAssertTrue(concatenations.allSatisfy(freed.contains), "a concatenation was kept")
                            XCTAssertTrue(freed.contains(firstConvolution), "the first convolution's output was kept")
                        }
                    } else {
                        XCTAssertEqual(freed, [])
                    }
                    try tape.backward(y.map { Tensor(shape: $0.shape, data: $0.data.map { $0 * 0.3 + 0.05 }) })
                    let kept = tape.stored.filter { !$0.isEmpty }.count
                    if release { XCTAssertEqual(kept, 0, "outputs left after a releasing backward") } else { XCTAssertGreaterThan(kept, 0) }
                    if step == 0 { gradients.append(tape.gradients) } else {
                        XCTAssertTrue(tape.gradients == gradients.last!, "second step differs, recompute \(recompute) release \(release)")
                    }
                }
            }
            for k in 1..<gradients.count { XCTAssertTrue(gradients[0] == gradients[k], "gradients differ in mode \(k)") }
        }
        // By default only volumes recompute and release; images keep every output.
        var image = try ArchitecturePreset.named("unet-xs").config
        image.seed = 12
        let flat = try Autograd(try image.build(), threads: 1, fuseActivations: true)
        let y = try flat.forward([Tensor(shape: TensorShape(batch: 1, channels: 1, height: 32, width: 32), data: rng.floats(32 * 32))])
        XCTAssertEqual(flat.stored.filter { $0.isEmpty }.count, 0)
        try flat.backward(y)
        XCTAssertEqual(flat.stored.filter { $0.isEmpty }.count, 0)
        let volume = try Autograd(unet, threads: 1, fuseActivations: true)
        _ = try volume.forward([cases[0].1])
        XCTAssertGreaterThan(volume.stored.filter { $0.isEmpty }.count, 0)
    }

    /// A grouped convolution with depth taps cannot stack its taps as channels: refused, naming the node.
    func testGroupedConvolutionWithDepthTapsIsRefused() throws {
        let b = GraphBuilder(seed: 4)
        let x = b.input("volume", channels: 2, spatialRank: 3)
        b.output("y", b.conv(x, 2, kernel: [3, 3, 3], padding: [1, 1, 1], groups: 2, name: "depthwise"))
        var rng = SplitMix64(seed: 0x3D04)
        XCTAssertThrowsError(try Autograd(b.graph, threads: 1).forward([Self.input(&rng)])) { error in
            XCTAssertTrue("\(error)".contains("depthwise") && "\(error)".contains("depth window of 1"), "\(error)")
        }
    }
}

/// The 3D architectures (V-Net; Res-UNet with InstanceNorm and a topology planned for anisotropic voxels;
/// U-Net with a width cap): the planner's rules, forward against the Float64 reference, gradients against
/// finite differences.
final class VolumeArchitectureTests: XCTestCase {
    func testPlannerFollowsTheSpacing() {
        let plan = NetworkPlan(spacing: [5, 1, 1], depth: 4)
        XCTAssertEqual(plan.levelKernels, [[1, 3, 3], [1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]])
        XCTAssertEqual(plan.levelPools, [[1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2]])
        XCTAssertTrue(plan.isAnisotropic)
        XCTAssertFalse(NetworkPlan(spacing: [1.2, 1, 1], depth: 3).isAnisotropic)
    }

    static func tiny(_ architecture: Architecture, spacing: [Double]? = nil, normalization: Normalization = .batch) throws -> Graph {
        var config = ArchitectureConfig(architecture: architecture, inChannels: 1, classes: 2, baseWidth: 2, depth: 2,
                                        normalization: normalization, rank: 3, seed: 9)
        if let spacing {
            let plan = NetworkPlan(spacing: spacing, depth: 2)
            (config.levelKernels, config.levelPools) = (plan.levelKernels, plan.levelPools)
        }
        config.maxWidth = 6
        return try config.build()
    }

    func testTinyNetworksMatchTheReferenceAndFiniteDifferences() throws {
        var rng = SplitMix64(seed: 0x3D05)
        let cases: [(String, Graph, [Int])] = [
            ("vnet", try Self.tiny(.vnet), [8, 8, 4]),
            ("anisotropic res-unet", try Self.tiny(.resUNet, spacing: [4, 1, 1], normalization: .instance), [2, 8, 12]),
            ("unet instance", try Self.tiny(.unet, normalization: .instance), [4, 8, 8]),
        ]
        for (name, graph, size) in cases {
            let x = Tensor(shape: TensorShape(batch: 2, channels: 1, depth: size[0], height: size[1], width: size[2]),
                           data: rng.floats(2 * size.reduce(1, *)))
            let executed = try Executor(graph, threads: 2).run(x)[0], reference = try ReferenceExecutor.run(graph, [x])[0]
            let range = reference.data.map { abs($0) }.max()!
            XCTAssertLessThan(zip(executed.data, reference.data).map { abs($0 - $1) }.max()!, 1e-5 * max(1, range), name)

            let tape = try Autograd(graph, threads: 2)
            let y = try tape.forward([x])
            let r = y.map { Tensor(shape: $0.shape, data: rng.floats($0.shape.elementCount)) }
            try tape.backward(r)
            var checked = 0
            for p in tape.learnableParameters where graph.parameters[p].name.hasSuffix(".weight") {
                var scale: Float = 0
                for g in tape.gradients[p] { scale = max(scale, abs(g)) }
                let i = rng.int(0...(graph.parameters[p].elementCount - 1))
                let w = graph.parameters[p].floats[i], h = max(abs(w), 0.05) * 1e-4
                let coarse = try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h, input: x, weights: r, batchStatistics: true)
                let fine = try FiniteDifferences.quotient(graph, parameter: p, index: i, step: h / 4, input: x, weights: r, batchStatistics: true)
                let tolerance = 1e-3 * (abs(fine) + Double(scale)) + 1e-6
                if abs(coarse - fine) > tolerance { continue }
                checked += 1
                XCTAssertLessThanOrEqual(abs(Double(tape.gradients[p][i]) - fine), tolerance, "\(name) \(graph.parameters[p].name)[\(i)]")
            }
            XCTAssertGreaterThan(checked, 4, name)
        }
    }
}
