import XCTest
import Foundation
import EngineChecks
import Kernels
@testable import Engine

/// Graphs over volumes (N, C, D, H, W) and windows of any rank: shapes, the model file, the Float64
/// reference against PyTorch, and what the fp32 executor, training and int8 do with them today.
final class VolumeGraphTests: XCTestCase {
    /// The network of `Benchmarks/parity/volume_reference.py` (mirror changes there): every operator with
    /// spatial geometry on volumes, odd sizes, anisotropic windows. Parameters and input are closed formulas.
    static func tinyVolumeNet() -> Graph {
        let b = GraphBuilder(seed: 1)
        let x = b.input("volume", channels: 2, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 3, kernel: [1, 3, 3], name: "c1"))
        let p1 = b.maxPool(c1, name: "p1")
        let c2 = b.conv(p1, 4, kernel: 3, name: "c2")
        let u1 = b.convTranspose(c2, 3, kernel: 2, stride: 2, name: "u1")
        let u2 = b.resize(u1, like: c1, mode: .bilinear(alignCorners: false), name: "u2")
        let padded = b.pad(b.concat([c1, u2], name: "cat"), [1, 0, 2, 0, 1, 0], value: 0.5, name: "pad")
        let gn = b.groupNorm(b.averagePool(padded, kernel: [1, 2, 2], name: "pool"), groups: 2, name: "gn")
        let gate = b.sigmoid(b.conv(b.adaptiveAveragePool(gn, bins: 1, name: "squeeze"), 6, kernel: 1, name: "se"))
        let head = b.conv(b.mul(gn, gate, name: "excite"), 3, kernel: 1, name: "head")
        let probabilities = b.resize(b.softmax(head, name: "softmax"), factors: [1.5, 2, 0.5], mode: .bilinear(alignCorners: true), name: "resize")
        b.output("features", gn)
        b.output("probabilities", probabilities)
        var graph = b.graph
        for (p, parameter) in graph.parameters.enumerated() {
            let values = (0..<parameter.elementCount).map { Float(0.5 * sin(1.7 * Double($0) + 0.61 * Double(p) + 0.3)) }
            graph.parameters[p] = Parameter(name: parameter.name, shape: parameter.shape, values: values)
        }
        return graph
    }

    static func volume(batch: Int = 2, channels: Int = 2, depth: Int = 5, height: Int = 6, width: Int = 7) -> Tensor {
        let shape = TensorShape(batch: batch, channels: channels, depth: depth, height: height, width: width)
        return Tensor(shape: shape, data: (0..<shape.elementCount).map { Float(0.8 * sin(0.37 * Double($0)) + 0.1) })
    }

    struct Golden: Decodable {
        struct Output: Decodable { let shape: [Int]; let values: [Double] }
        let features: Output
        let probabilities: Output
    }

    /// Tolerance 1e-9 absolute: both sides compute in float64 from the same float32 parameters and input,
    /// so only the order of the sums differs.
    func testTinyVolumeNetMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/tiny-volume-net.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        let outputs = try ReferenceExecutor.runDouble(Self.tinyVolumeNet(), [Self.volume()])
        for (output, expected) in zip(outputs, [golden.features, golden.probabilities]) {
            let s = output.shape
            XCTAssertEqual([s.batch, s.channels] + s.spatial, expected.shape)
            XCTAssertEqual(output.data.count, expected.values.count)
            let error = zip(output.data, expected.values).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(error, 1e-9, "\(s)")
        }
    }

    func testShapesAndKindsFollowTheWindowRank() throws {
        let graph = Self.tinyVolumeNet()
        let shapes = try graph.inferShapes([Self.volume().shape])
        let byName = Dictionary(uniqueKeysWithValues: zip(graph.nodes.map(\.name), shapes))
        XCTAssertEqual(byName["c1"]?.spatial, [5, 6, 7])
        XCTAssertEqual(byName["p1"]?.spatial, [2, 3, 3])
        XCTAssertEqual(byName["u1"]?.spatial, [4, 6, 6])
        XCTAssertEqual(byName["pad"]?.spatial, [6, 7, 9])
        XCTAssertEqual(byName["pool"]?.spatial, [6, 3, 4])
        XCTAssertEqual(byName["squeeze"]?.spatial, [1, 1, 1])
        XCTAssertEqual(byName["resize"]?.spatial, [9, 6, 2])
        let kinds = Set(graph.nodes.map(\.op.kind))
        XCTAssertTrue(kinds.isSuperset(of: ["conv3d", "max_pool3d", "conv_transpose3d", "avg_pool3d"]), "\(kinds)")
        // c1 at 8x8x8: 3 outputs x 2 inputs x 1x3x3 taps per voxel.
        let c1 = graph.nodes.firstIndex { $0.name == "c1" }!
        let stats = try graph.statistics([TensorShape(batch: 1, channels: 2, depth: 8, height: 8, width: 8)])
        XCTAssertEqual(stats[c1].macs, Double(8 * 8 * 8 * 3 * 2 * 9))
    }

    func testVolumeModelFileRoundTrips() throws {
        var metadata = Metadata()
        metadata[MetadataKey.inputMultiple] = .int(4)
        let model = Model(metadata: metadata, graph: Self.tinyVolumeNet())
        let bytes = ModelFileWriter.encode(model)
        let back = try bytes.withUnsafeBytes { raw in try ModelFileReader.decode(raw) }
        XCTAssertEqual(back, model)
        guard case .input(let input) = back.graph.nodes[0].op else { return XCTFail("no input node") }
        XCTAssertEqual(input.spatialRank, 3)
        let x = Self.volume()
        XCTAssertEqual(try ReferenceExecutor.runDouble(back.graph, [x]).map(\.data), try ReferenceExecutor.runDouble(model.graph, [x]).map(\.data))
    }

    func testWindowsThatDoNotFitTheTensorAreNamed() {
        let b = GraphBuilder(seed: 2)
        let x = b.input("image", channels: 1)
        b.output("y", b.conv(Value(node: x.node, channels: 1, spatialRank: 3), 2, kernel: 3, name: "volume-conv"))
        XCTAssertThrowsError(try b.graph.inferShapes([TensorShape(channels: 1, height: 8, width: 8)])) { error in
            XCTAssertTrue("\(error)".contains("volume-conv") && "\(error)".contains("does not fit"), "\(error)")
        }
        // A volume given to an image model, and the reverse, are named at the input.
        let net = Self.tinyVolumeNet()
        XCTAssertThrowsError(try net.inferShapes([TensorShape(channels: 2, height: 8, width: 8)])) { error in
            XCTAssertTrue("\(error)".contains("takes 3"), "\(error)")
        }
    }

    /// Largest difference relative to the reference's largest magnitude.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        if a.data.contains(where: { !$0.isFinite }) { return .infinity }
        let scale = max(b.data.map { abs($0) }.max() ?? 0, 1e-6)
        return zip(a.data, b.data).map { abs($0 - $1) }.max()! / scale
    }

    /// Every window edge the depth slicing has: depth stride and dilation, depth padding so large that the
    /// first output slices see no input (bias only), a depthwise 3D convolution (taps summed), pooling in
    /// depth, transposed output padding, nearest depth resizing, and channel counts off the vector width.
    static func edgeVolumeNet() -> Graph {
        let b = GraphBuilder(seed: 5)
        let x = b.input("volume", channels: 3, spatialRank: 3)
        let c1 = b.leakyRelu(b.conv(x, 5, kernel: [3, 3, 3], stride: [2, 1, 1], dilation: [2, 1, 1], padding: [5, 1, 1], name: "c1"))
        let p1 = b.maxPool(c1, kernel: [3, 2, 2], stride: [2, 2, 2], name: "p1")
        let dw = b.conv(c1, 5, kernel: [3, 3, 3], padding: [2, 1, 1], groups: 5, name: "depthwise")
        let a1 = b.averagePool(dw, kernel: [2, 1, 1], stride: [1, 1, 1], name: "a1")
        let u1 = b.convTranspose(p1, 7, kernel: [3, 2, 2], stride: [2, 2, 2], padding: [1, 0, 0], outputPadding: [1, 0, 0], name: "u1")
        let n1 = b.upsample(u1, scale: 2, mode: .nearest, name: "n1")
        let padded = b.pad(n1, [2, 1, 0, 1, 0, 3], value: -0.25, name: "pad")
        let global = b.adaptiveAveragePool(padded, bins: 1, name: "global")
        b.output("a1", a1)
        b.output("padded", padded)
        b.output("global", global)
        return b.graph
    }

    /// With 2 and 3 threads, batch 2 (18 slices: the threads take whole slices, `VolumeSlices.threadsTakeSlices`) and
    /// batch 1 (9 slices: uneven for 2 threads, which then split each slice's kernel): the bits of 1 thread.
    func testEveryDepthEdgeRunsSliceBySlice() throws {
        let graph = Self.edgeVolumeNet()
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 3, depth: 9, height: 6, width: 5)
            let expected = try ReferenceExecutor.run(graph, [input])
            let one = try Executor(graph, threads: 1, policy: .forced(.igemm)).run(input)
            for threads in [2, 3] {
                let many = try Executor(graph, threads: threads, policy: .forced(.igemm)).run(input)
                XCTAssertEqual(one.map(\.data), many.map(\.data), "bits differ between 1 and \(threads) threads, batch \(batch)")
            }
            for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(e.shape)") }
        }
    }

    /// Stacked 3D convolutions stack their depth taps straight into the padded input of the algorithm
    /// (`ChannelBlocks`), whether the threads take whole output slices or share each slice's work: Winograd F4
    /// and F2 on 1, 2 and 3 threads give the same bits, for depth stride, dilation, and padding so large that an
    /// output slice reads only zeros, with 16 and 32 channels; within 1e-5 of the Float64 reference.
    func testStackedWinogradLayersKeepTheBitsOnAnyThreads() throws {
        let b = GraphBuilder(seed: 11)
        let x = b.input("volume", channels: 16, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 16, kernel: [3, 3, 3], padding: [1, 1, 1], name: "c1"))
        let c2 = b.conv(c1, 32, kernel: [3, 3, 3], stride: [2, 1, 1], padding: [1, 1, 1], name: "c2")
        let c3 = b.conv(c2, 16, kernel: [3, 3, 3], dilation: [2, 1, 1], padding: [5, 1, 1], name: "c3")
        b.output("c1", c1)
        b.output("c3", c3)
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 16, depth: 9, height: 10, width: 7)
            let expected = try ReferenceExecutor.run(b.graph, [input])
            for variant in [WinogradVariant.f4, .f2] {
                let one = try Executor(b.graph, threads: 1, policy: .forced(.winograd(variant))).run(input)
                for threads in [2, 3] {
                    let many = try Executor(b.graph, threads: threads, policy: .forced(.winograd(variant))).run(input)
                    XCTAssertEqual(one.map(\.data), many.map(\.data), "\(variant): bits differ between 1 and \(threads) threads, batch \(batch)")
                }
                for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(variant) \(e.shape)") }
            }
        }
    }

    /// A volume's first layers (one channel, so 3 stacked depth taps; or three channels under a 1x3x3 window) run the
    /// narrow Winograd kernel (`F32ConvWinogradNarrow`), which stacks and pads its taps itself: the same bits on 1, 2
    /// and 3 threads, with depth stride, dilation, and padding so large that an output slice reads only zeros, batch
    /// 1 and 2; within 1e-5 of the Float64 reference.
    func testFirstVolumeLayersRunTheNarrowWinogradKernel() throws {
        let b = GraphBuilder(seed: 12)
        let x = b.input("volume", channels: 1, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 16, kernel: [3, 3, 3], padding: [1, 1, 1], name: "c1"))
        let c2 = b.conv(x, 3, kernel: [3, 3, 3], stride: [2, 1, 1], padding: [1, 1, 1], name: "c2")
        let c3 = b.conv(x, 18, kernel: [3, 3, 3], dilation: [2, 1, 1], padding: [5, 1, 1], name: "c3")
        let c4 = b.conv(c2, 5, kernel: [1, 3, 3], padding: [0, 1, 0], name: "c4")
        for (name, value) in [("c1", c1), ("c3", c3), ("c4", c4)] { b.output(name, value) }
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 1, depth: 9, height: 10, width: 7)
            let expected = try ReferenceExecutor.run(b.graph, [input])
            let executor = try Executor(b.graph, threads: 1, policy: .forced(.winogradNarrow))
            XCTAssertEqual(try executor.plan([input.shape]).convolutionChoices.filter { $0.algorithm == .winogradNarrow }.count, 4)
            let one = try executor.run(input)
            for threads in [2, 3] {
                let many = try Executor(b.graph, threads: threads, policy: .forced(.winogradNarrow)).run(input)
                XCTAssertEqual(one.map(\.data), many.map(\.data), "bits differ between 1 and \(threads) threads, batch \(batch)")
            }
            for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(e.shape)") }
        }
    }

    /// Deep layers on small volumes, where the weights outweigh the whole stacked volume, stack every output slice
    /// and run them as one batched 2D call (each weight panel read once for all slices): the same bits as slice by
    /// slice for every algorithm, on 1, 2 and 3 threads, with depth stride, dilation and padding, odd channel
    /// counts and batch 1 and 2; within 1e-5 of the Float64 reference.
    func testDeepVolumeLayersBatchTheirSlicesWithTheSameBits() throws {
        let b = GraphBuilder(seed: 5)
        let x = b.input("volume", channels: 37, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 45, kernel: [3, 3, 3], padding: [1, 1, 1], name: "c1"))
        let c2 = b.conv(c1, 40, kernel: [3, 3, 3], stride: [2, 1, 1], padding: [1, 1, 1], name: "c2")
        let c3 = b.conv(c2, 33, kernel: [3, 3, 3], dilation: [2, 1, 1], padding: [3, 1, 1], name: "c3")
        b.output("c1", c1)
        b.output("c3", c3)
        let saved = ConvAttributes.batchedStackFloats
        defer { ConvAttributes.batchedStackFloats = saved }
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 37, depth: 5, height: 4, width: 3)
            let expected = try ReferenceExecutor.run(b.graph, [input])
            for algorithm in [ConvAlgorithm.igemm, .winograd(.f4), .winograd(.f2)] {
                ConvAttributes.batchedStackFloats = 0
                let sliced = try Executor(b.graph, threads: 2, policy: .forced(algorithm)).run(input)
                ConvAttributes.batchedStackFloats = saved
                let executor = try Executor(b.graph, threads: 1, policy: .forced(algorithm))
                XCTAssertTrue(try executor.plan([input.shape]).convolutionChoices.allSatisfy { $0.geometry.batch > 1 }, "\(algorithm): not batched")
                let one = try executor.run(input)
                XCTAssertEqual(one.map(\.data), sliced.map(\.data), "\(algorithm): batched bits differ from slice by slice, batch \(batch)")
                for threads in [2, 3] {
                    let many = try Executor(b.graph, threads: threads, policy: .forced(algorithm)).run(input)
                    XCTAssertEqual(one.map(\.data), many.map(\.data), "\(algorithm): bits differ between 1 and \(threads) threads, batch \(batch)")
                }
                for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(algorithm) \(e.shape)") }
            }
        }
    }

    /// Through-plane windows (`kd x 1 x 1`) run as an implicit GEMM over the input slices in place
    /// (`ConvAttributes.planDepthTaps`): with depth stride, dilation and padding so large that output slices read only a suffix,
    /// a prefix or none of their taps, channel counts off the vector width, weights too large to stay in the tile
    /// loop (3 x 130 x 130), batch 1 and 2, and tiles that straddle slices: within 1e-5 of the Float64 reference and
    /// the same bits on 1, 2 and 3 threads.
    func testDepthOnlyWindowsReadTheirSlicesInPlace() throws {
        let b = GraphBuilder(seed: 17)
        let x = b.input("volume", channels: 7, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 37, kernel: [3, 1, 1], padding: [1, 0, 0], name: "c1"))
        let c2 = b.conv(c1, 130, kernel: [5, 1, 1], stride: [2, 1, 1], dilation: [2, 1, 1], padding: [6, 0, 0], name: "c2")
        let c3 = b.leakyRelu(b.conv(c2, 130, kernel: [3, 1, 1], padding: [1, 0, 0], name: "c3"))
        let c4 = b.conv(c3, 33, kernel: [2, 1, 1], padding: [3, 0, 0], name: "c4")
        b.output("c1", c1)
        b.output("c4", c4)
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 7, depth: 9, height: 5, width: 7)
            let expected = try ReferenceExecutor.run(b.graph, [input])
            let executor = try Executor(b.graph, threads: 1)
            XCTAssertTrue(try executor.plan([input.shape]).convolutionChoices.allSatisfy { $0.geometry.batch == 1 }, "batched instead")
            let one = try executor.run(input)
            for threads in [2, 3] {
                let many = try Executor(b.graph, threads: threads).run(input)
                XCTAssertEqual(one.map(\.data), many.map(\.data), "bits differ between 1 and \(threads) threads, batch \(batch)")
            }
            for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(e.shape)") }
        }
    }

    /// The in-place through-plane GEMM gives the bits of the 1x1 GEMM over the stacked taps it replaced (zeros where a
    /// tap lies in the padding): a 3 x 1 x 1 convolution with bias, depth padding 2, every output slice compared.
    func testDepthOnlyWindowsKeepTheBitsOfTheStackedGemm() throws {
        let (cin, cout, kd, depth, height, width) = (7, 37, 3, 6, 5, 7)
        let b = GraphBuilder(seed: 23)
        let x = b.input("volume", channels: cin, spatialRank: 3)
        b.output("y", b.conv(x, cout, kernel: [kd, 1, 1], padding: [2, 0, 0], name: "c"))
        let input = Self.volume(batch: 1, channels: cin, depth: depth, height: height, width: width)
        let y = try Executor(b.graph, threads: 1).run(input)[0]
        let w = b.graph.parameters.first { $0.shape == [cout, cin, kd, 1, 1] }!.floats
        let bias = b.graph.parameters.first { $0.shape == [cout] }!.floats
        var stackedWeights = [Float](repeating: 0, count: cout * kd * cin)
        for o in 0..<cout { for kz in 0..<kd { for c in 0..<cin { stackedWeights[(o * kd + kz) * cin + c] = w[(o * cin + c) * kd + kz] } } }
        let pixels = height * width, outDepth = depth + 4 - kd + 1
        let stacked = Conv2dGeometry(inChannels: kd * cin, inHeight: height, inWidth: width, outChannels: cout, kernel: 1)
        let op = try stackedWeights.withUnsafeBufferPointer { w in
            try bias.withUnsafeBufferPointer { try Conv2dOperator(stacked, weights: w.baseAddress!, bias: $0.baseAddress!, activation: .none,
                                                                   algorithm: .gemm1x1, threads: 1) }
        }
        XCTAssertEqual(y.data.count, outDepth * pixels * cout)
        for oz in 0..<outDepth {
            // The tensors are NCDHW; the operator's images NHWC.
            var taps = [Float](repeating: 0, count: pixels * kd * cin)
            for kz in 0..<kd where (0..<depth).contains(oz - 2 + kz) {
                for p in 0..<pixels { for c in 0..<cin { taps[(p * kd + kz) * cin + c] = input.data[(c * depth + oz - 2 + kz) * pixels + p] } }
            }
            var out = [Float](repeating: .nan, count: pixels * cout)
            taps.withUnsafeBufferPointer { t in out.withUnsafeMutableBufferPointer { op.run(input: t.baseAddress!, output: $0.baseAddress!) } }
            for o in 0..<cout {
                XCTAssertEqual((0..<pixels).map { y.data[(o * outDepth + oz) * pixels + $0] }, (0..<pixels).map { out[$0 * cout + o] },
                               "slice \(oz), channel \(o)")
            }
        }
    }

    /// Pointwise windows (1 x 1 x 1, unit strides, no padding) run as one GEMM over the whole batch of volumes, its
    /// tiles straddling slices and images: the planned geometry is one image of `batch * depth * height` rows; weights
    /// small enough for the tile loop (37 -> 200, ReLU) and too large for it (200 -> 260); batch 1 and 2; within 1e-5
    /// of the Float64 reference, the same bits on 1, 2 and 3 threads, and every slice with the bits of the 2D GEMM
    /// run on that slice alone. Then an input past L2 (32 channels, 8 x 48 x 48), whose rows the kernel prefetches.
    func testPointwiseVolumeLayersRunAsOneGemm() throws {
        let b = GraphBuilder(seed: 29)
        let x = b.input("volume", channels: 37, spatialRank: 3)
        let c1 = b.relu(b.conv(x, 200, kernel: [1, 1, 1], name: "c1"))
        let c2 = b.conv(c1, 260, kernel: [1, 1, 1], name: "c2")
        b.output("c1", c1)
        b.output("c2", c2)
        let (depth, height, width) = (5, 4, 5)
        let w = b.graph.parameters.first { $0.shape == [200, 37, 1, 1, 1] }!.floats
        let bias = b.graph.parameters.first { $0.shape == [200] }!.floats
        let slice = Conv2dGeometry(inChannels: 37, inHeight: height, inWidth: width, outChannels: 200, kernel: 1)
        let sliceOp = try w.withUnsafeBufferPointer { w in
            try bias.withUnsafeBufferPointer { try Conv2dOperator(slice, weights: w.baseAddress!, bias: $0.baseAddress!, activation: .relu,
                                                                   algorithm: .gemm1x1, threads: 1) }
        }
        for batch in [2, 1] {
            let input = Self.volume(batch: batch, channels: 37, depth: depth, height: height, width: width)
            let expected = try ReferenceExecutor.run(b.graph, [input])
            let executor = try Executor(b.graph, threads: 1)
            let choices = try executor.plan([input.shape]).convolutionChoices
            XCTAssertEqual(choices.map(\.geometry.inHeight), [batch * depth * height, batch * depth * height])
            XCTAssertTrue(choices.allSatisfy { $0.geometry.batch == 1 })
            let one = try executor.run(input)
            for threads in [2, 3] {
                let many = try Executor(b.graph, threads: threads).run(input)
                XCTAssertEqual(one.map(\.data), many.map(\.data), "bits differ between 1 and \(threads) threads, batch \(batch)")
            }
            for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(e.shape)") }
            // The tensors are NCDHW, the operator's images NHWC.
            let pixels = height * width
            for n in 0..<batch { for z in 0..<depth {
                var image = [Float](repeating: 0, count: pixels * 37)
                for p in 0..<pixels { for c in 0..<37 { image[p * 37 + c] = input.data[((n * 37 + c) * depth + z) * pixels + p] } }
                var out = [Float](repeating: .nan, count: pixels * 200)
                image.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { sliceOp.run(input: i.baseAddress!, output: $0.baseAddress!) } }
                for o in 0..<200 {
                    XCTAssertEqual((0..<pixels).map { one[0].data[((n * 200 + o) * depth + z) * pixels + $0] }, (0..<pixels).map { out[$0 * 200 + o] },
                                   "image \(n), slice \(z), channel \(o)")
                }
            } }
        }

        let large = GraphBuilder(seed: 31)
        let v = large.input("volume", channels: 32, spatialRank: 3)
        large.output("y", large.conv(v, 33, kernel: [1, 1, 1], name: "c"))
        let input = Self.volume(batch: 1, channels: 32, depth: 8, height: 48, width: 48)
        let executor = try Executor(large.graph, threads: 1)
        XCTAssertTrue(F32ConvIgemm.prefetchesRows(try executor.plan([input.shape]).convolutionChoices[0].geometry), "no prefetch")
        let one = try executor.run(input)[0]
        XCTAssertEqual(one.data, try Executor(large.graph, threads: 2).run(input)[0].data, "bits differ between 1 and 2 threads")
        XCTAssertLessThan(relativeError(one, try ReferenceExecutor.run(large.graph, [input])[0]), 1e-5)
    }

    /// A U-Net decoder's concatenation of two equal parts is not built when every reader is a 3D convolution that
    /// stacks its depth taps into its padded input: the convolution reads the parts. Its output has the bits of the
    /// same graph with the concatenation also a graph output (so built), on 1-3 threads, batch 1 and 2, igemm and
    /// both Winograd variants, within 1e-5 of the Float64 reference; the arena holds no concatenation. Parts of
    /// unequal channels, and a concatenation that another node also reads, are built.
    func testDecoderConcatenationsAreReadInParts() throws {
        func decoder(partChannels: [Int], alsoRelu: Bool, concatOutput: Bool) -> Graph {
            let b = GraphBuilder(seed: 37)
            let x = b.input("volume", channels: 3, spatialRank: 3)
            let parts = partChannels.enumerated().map { b.relu(b.conv(x, $0.element, kernel: [3, 3, 3], padding: [1, 1, 1], name: "p\($0.offset)")) }
            let cat = b.concat(parts, name: "cat")
            b.output("y", b.conv(cat, 5, kernel: [3, 3, 3], padding: [1, 1, 1], name: "c"))
            if alsoRelu { b.output("r", b.relu(cat)) }
            if concatOutput { b.output("cat", cat) }
            return b.graph
        }
        for (parts, alsoRelu, unbuilt) in [([8, 8], false, true), ([7, 7, 7], false, true), ([8, 4], false, false), ([8, 8], true, false)] {
            let graph = decoder(partChannels: parts, alsoRelu: alsoRelu, concatOutput: false)
            let built = decoder(partChannels: parts, alsoRelu: alsoRelu, concatOutput: true)
            for batch in [2, 1] {
                let input = Self.volume(batch: batch, channels: 3, depth: 5, height: 6, width: 7)
                let expected = try ReferenceExecutor.run(graph, [input])[0]
                for algorithm in [ConvAlgorithm.winograd(.f4), .winograd(.f2), .igemm] {
                    let executor = try Executor(graph, threads: 1, policy: .forced(algorithm))
                    let plan = try executor.plan([input.shape])
                    XCTAssertEqual(plan.unbuiltConcatenations.isEmpty, !unbuilt, "\(parts) \(algorithm)")
                    let one = try executor.run(input)[0]
                    let reference = try Executor(built, threads: 1, policy: .forced(algorithm)).run(input)[0]
                    XCTAssertEqual(one.data, reference.data, "\(parts) \(algorithm): bits differ from the built concatenation, batch \(batch)")
                    for threads in [2, 3] {
                        XCTAssertEqual(one.data, try Executor(graph, threads: threads, policy: .forced(algorithm)).run(input)[0].data,
                                       "\(parts) \(algorithm): bits differ between 1 and \(threads) threads")
                    }
                    XCTAssertLessThan(relativeError(one, expected), 1e-5, "\(parts) \(algorithm)")
                }
            }
        }
    }

    /// The fp32 executor runs volumes through the 2D kernels one depth slice at a time (`VolumeSlices`):
    /// within 1e-5 of the Float64 reference relative to the output's range, with the same bits on 1 and 2
    /// threads (training on volumes: `VolumeAutogradTests`).
    func testFloatExecutorRunsVolumesSliceBySlice() throws {
        let net = Self.tinyVolumeNet(), input = Self.volume()
        let expected = try ReferenceExecutor.run(net, [input])
        for algorithm in [ConvAlgorithm.igemm, .winograd(.f2)] {
            let one = try Executor(net, threads: 1, policy: .forced(algorithm)).run(input)
            let two = try Executor(net, threads: 2, policy: .forced(algorithm)).run(input)
            XCTAssertEqual(one.map(\.data), two.map(\.data), "bits differ between 1 and 2 threads")
            for (y, e) in zip(one, expected) { XCTAssertLessThan(relativeError(y, e), 1e-5, "\(algorithm)") }
        }

        let b = GraphBuilder(seed: 3)
        let x = b.input("volume", channels: 4, spatialRank: 3)
        let y = b.softmax(b.prelu(b.groupNorm(x, groups: 2, name: "gn"), name: "prelu"), name: "softmax")
        b.output("y", b.concat([y, b.clip(x, low: -0.2, high: 0.3, name: "clip")], name: "cat"))
        let small = Self.volume(channels: 4, depth: 3, height: 5, width: 6)
        XCTAssertLessThan(relativeError(try Executor(b.graph, threads: 2).run(small)[0], try ReferenceExecutor.run(b.graph, [small])[0]), 1e-5)

    }

    /// The 3D U-Net preset: built through the same architecture code as the 2D U-Net (the input's rank sets
    /// every window's), planned with the measured algorithm choice and BatchNorm folded, within 1e-5 of the
    /// Float64 reference; its model file round-trips.
    func testUNet3DPresetRunsAgainstTheReference() throws {
        var config = try ArchitecturePreset.named("unet3d-xs").config
        config.classes = 3
        config.seed = 8
        let model = try Model(config: config, preset: "unet3d-xs")
        XCTAssertEqual(model.inputSpatialRank, 3)
        XCTAssertTrue(model.graph.nodes.contains { $0.op.kind == "conv3d" })
        let input = Self.volume(batch: 1, channels: 1, depth: 16, height: 8, width: 24)
        let expected = try ReferenceExecutor.run(model.graph, [input])[0]
        let got = try Executor(model: model, threads: 2).run(input)[0]
        XCTAssertEqual(got.shape.spatial, [16, 8, 24])
        XCTAssertLessThan(relativeError(got, expected), 1e-5)
        let back = try ModelFileWriter.encode(model).withUnsafeBytes { try ModelFileReader.decode($0) }
        XCTAssertEqual(back, model)
        XCTAssertThrowsError(try ArchitectureConfig(architecture: .pspnet, rank: 3).build())
    }

    /// A rank-1 window runs along W of a height-1 tensor (a 1D signal) in both executors.
    func testOneDimensionalWindowsRunOnHeightOneTensors() throws {
        let b = GraphBuilder(seed: 4)
        let x = b.input("signal", channels: 3)
        let c = b.conv(Value(node: x.node, channels: 3, spatialRank: 1), 5, kernel: [5], stride: [2], dilation: [2], name: "conv1d")
        b.output("y", b.pad(Value(node: c.node, channels: 5, spatialRank: 1), [3, 1], value: -1, name: "pad1d"))
        let input = Tensor(shape: TensorShape(batch: 2, channels: 3, height: 1, width: 23),
                           data: (0..<138).map { Float(sin(0.3 * Double($0))) })
        let fast = try Executor(b.graph, threads: 1, policy: .forced(.igemm)).run(input)[0]
        let slow = try ReferenceExecutor.run(b.graph, [input])[0]
        XCTAssertEqual(fast.shape.spatial, [1, (23 + 8 - 9) / 2 + 1 + 4])
        XCTAssertEqual(slow.shape, fast.shape)
        XCTAssertLessThan(zip(fast.data, slow.data).map { abs($0 - $1) }.max()!, 1e-5)
        XCTAssertEqual(b.graph.nodes[1].op.kind, "conv1d")
    }
}
