import Engine
import Kernels
@testable import ONNX
import XCTest

/// `segrun export`: every architecture and every operator written as ONNX and read back by `segrun import`
/// gives bitwise the same outputs (ONNX Runtime's agreement with the exports is checked in
/// Benchmarks/peers/onnx_export.py, which needs Python).
final class ONNXExportTests: XCTestCase {
    func roundTrip(_ model: Model, input: TensorShape, size: [Int]? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = try ONNXExporter.export(model, size: size)
        let onnx = try ONNXModel(bytes: bytes)
        XCTAssertEqual(onnx.opset, 17)
        let back = try ONNXImporter.importModel(onnx, directory: nil, options: ONNXImportOptions(size: input.spatial)).model
        var x = Tensor(zeros: input)
        for i in 0..<x.data.count { x.data[i] = Float((i * 7919) % 997) / 997 - 0.3 }
        let a = try Executor(model: model, threads: 1).run(x)
        let b = try Executor(model: back, threads: 1).run(x)
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        XCTAssertEqual(a[0].shape, b[0].shape, file: file, line: line)
        XCTAssertEqual(a[0].data, b[0].data, "\(model.metadata[MetadataKey.architecture]?.description ?? "model"): export then import changed the output", file: file, line: line)
        for key in [MetadataKey.classes, MetadataKey.inputChannels, MetadataKey.threshold] {
            XCTAssertEqual(back.metadata[key], model.metadata[key], key, file: file, line: line)
        }
    }

    func testEveryArchitectureRoundTripsBitwise() throws {
        for architecture in Architecture.allCases where architecture != .vnet {
            var config = ArchitectureConfig(architecture: architecture, classes: 3, baseWidth: 4, depth: 2, seed: 5)
            if architecture == .unetPlusPlus { config.deepSupervision = true }
            let size = architecture == .pspnet ? [24, 24] : nil
            try roundTrip(try Model(config: config), input: TensorShape(channels: 1, height: 24, width: 24), size: size)
        }
        var bilinear = ArchitectureConfig(architecture: .unet, baseWidth: 4, depth: 2, upsampling: .bilinear, seed: 6)
        bilinear.squeezeExcitation = true
        try roundTrip(try Model(config: bilinear), input: TensorShape(channels: 1, height: 20, width: 28))
        // UNet 3+'s classification-guided module: binary (every channel gated) and softmax with deep supervision.
        for (classes, deep) in [(1, false), (3, true)] {
            var cgm = ArchitectureConfig(architecture: .unet3Plus, classes: classes, baseWidth: 4, depth: 2, deepSupervision: deep, seed: 8)
            cgm.classificationGuided = true
            try roundTrip(try Model(config: cgm), input: TensorShape(channels: 1, height: 24, width: 20))
        }
        let volume = ArchitectureConfig(architecture: .unet, classes: 2, baseWidth: 4, depth: 2, rank: 3, seed: 7)
        try roundTrip(try Model(config: volume), input: TensorShape(channels: 1, depth: 8, height: 8, width: 12))
        // The 3D-only V-Net (5x5x5 convolutions, stride-2 convolutions, PReLU) and an anisotropic, InstanceNorm Res-UNet.
        let vnet = ArchitectureConfig(architecture: .vnet, classes: 2, baseWidth: 4, depth: 2, rank: 3, seed: 9)
        try roundTrip(try Model(config: vnet), input: TensorShape(channels: 1, depth: 8, height: 8, width: 12))
        var res = ArchitectureConfig(architecture: .resUNet, classes: 2, baseWidth: 4, depth: 2, normalization: .instance, rank: 3, seed: 10)
        let plan = NetworkPlan(spacing: [3, 1, 1], depth: 2)
        (res.levelKernels, res.levelPools) = (plan.levelKernels, plan.levelPools)
        try roundTrip(try Model(config: res), input: TensorShape(channels: 1, depth: 4, height: 8, width: 12))
    }

    /// The operators the presets do not use: GroupNorm (grouped and per channel), PReLU, constant padding,
    /// clipping, leaky ReLU, a sigmoid gate, resizing by fractional factors and to another tensor's size.
    func testOtherOperatorsRoundTripBitwise() throws {
        var g = Graph()
        var values: [Float] = []
        func parameter(_ name: String, _ shape: [Int]) -> Int {
            let n = shape.reduce(1, *)
            let v = (0..<n).map { Float(((values.count + $0) * 37) % 23) / 23 - 0.4 }
            values += v
            g.parameters.append(Parameter(name: name, shape: shape, values: v))
            return g.parameters.count - 1
        }
        func add(_ op: Op, _ inputs: [Int]) -> Int {
            g.nodes.append(Node(name: "n\(g.nodes.count)", op: op, inputs: inputs))
            return g.nodes.count - 1
        }
        let x = add(.input(InputNode(channels: 2)), [])
        let c1 = add(.conv2d(ConvAttributes(outChannels: 6, kernel: 3, padding: 1, weight: parameter("w1", [6, 2, 3, 3]), bias: parameter("b1", [6]))), [x])
        let gn = add(.groupNorm(GroupNorm(groups: 2, gamma: parameter("g", [6]), beta: parameter("be", [6]))), [c1])
        let pr = add(.prelu(PReLU(slope: parameter("s", [6]))), [gn])
        let pad = add(.pad(ConstantPad(pads: [1, 0, 2, 1], value: 0.25)), [pr])
        let clip = add(.clip(Clip(low: -0.5, high: 0.75)), [pad])
        let c2 = add(.conv2d(ConvAttributes(outChannels: 6, kernel: 3, stride: 2, padding: 1, weight: parameter("w2", [6, 6, 3, 3]), bias: nil,
                                            activation: .leakyRelu(slope: 0.2))), [clip])
        let inorm = add(.groupNorm(GroupNorm(groups: 6, gamma: parameter("ig", [6]), beta: parameter("ib", [6]))), [c2])
        let up = add(.upsample(UpsampleAttributes(mode: .bilinear(alignCorners: false), factors: [1.5, 2])), [inorm])
        let gate = add(.conv2d(ConvAttributes(outChannels: 1, kernel: 1, padding: 0, weight: parameter("wg", [1, 6, 1, 1]), bias: parameter("bg", [1]))), [up])
        let sig = add(.activation(.sigmoid), [gate])
        let gated = add(.mul, [up, sig])
        let back = add(.upsample(UpsampleAttributes(mode: .nearest, scale: 0)), [gated, clip])
        let sum = add(.add(.relu), [back, clip])
        let head = add(.conv2d(ConvAttributes(outChannels: 3, kernel: 1, padding: 0, weight: parameter("wh", [3, 6, 1, 1]), bias: parameter("bh", [3]))), [sum])
        g.outputs = [GraphOutput(name: "logits", node: head)]
        var m = Metadata()
        m[MetadataKey.inputChannels] = .int(2)
        m[MetadataKey.classes] = .int(3)
        m[MetadataKey.threshold] = .float(0.5)
        try roundTrip(Model(metadata: m, graph: g), input: TensorShape(channels: 2, height: 13, width: 17))
    }

    /// An int8 model is written as QDQ: its int8 weights and Int32 biases as integer initializers behind
    /// DequantizeLinear (per channel, with the stored scales), each 8-bit activation through QuantizeLinear
    /// and DequantizeLinear with its scale and zero point, float layers as float. (ONNX Runtime runs such
    /// exports within one quantization step of segrun: Benchmarks/peers/onnx_export.py.)
    func testInt8ModelsAreWrittenAsQDQ() throws {
        var g = Graph()
        let weights: [Int8] = (0..<54).map { Int8(($0 * 37) % 255 - 127) }
        g.parameters = [
            Parameter(name: "w", shape: [3, 2, 3, 3], data: .i8(weights), quantization: Quantization(axis: 0, scales: [0.01, 0.02, 0.03], zeroPoints: [0, 0, 0])),
            Parameter(name: "b", shape: [3], data: .i32([120, -7, 3001]), quantization: Quantization(axis: 0, scales: [2e-4, 4e-4, 6e-4], zeroPoints: [0, 0, 0])),
            Parameter(name: "wh", shape: [2, 3, 1, 1], values: [0.5, -0.25, 1, 0.75, 0.1, -0.3]),
        ]
        g.nodes = [
            Node(name: "x", op: .input(InputNode(channels: 2)), inputs: []),
            Node(name: "c", op: .conv2d(ConvAttributes(outChannels: 3, kernel: 3, padding: 1, weight: 0, bias: 1, activation: .relu)), inputs: [0]),
            Node(name: "h", op: .conv2d(ConvAttributes(outChannels: 2, kernel: 1, padding: 0, weight: 2, bias: nil)), inputs: [1]),
        ]
        g.outputs = [GraphOutput(name: "logits", node: 2)]
        var m = Metadata()
        m[MetadataKey.inputChannels] = .int(2)
        m[MetadataKey.precision] = .string("int8")
        ActivationQuantization(["x": Q8TensorParameters(scale: 0.02, zeroPoint: 128), "c": Q8TensorParameters(scale: 0.05, zeroPoint: 0)])
            .write(into: &m)
        let onnx = try ONNXModel(bytes: try ONNXExporter.export(Model(metadata: m, graph: g)))
        let nodes = onnx.graph.nodes
        func producer(_ value: String) -> ONNXNode? { nodes.first { $0.outputs.contains(value) } }
        func initializer(_ name: String) -> ONNXTensor? { onnx.graph.initializers.first { $0.name == name } }

        XCTAssertEqual(onnx.graph.inputs.map(\.name), ["x"], "the graph input keeps its name")
        XCTAssertEqual(nodes.filter { $0.opType == "QuantizeLinear" }.count, 2, "one per 8-bit activation")
        XCTAssertEqual(nodes.filter { $0.opType == "DequantizeLinear" }.count, 4, "two activations, one weight, one bias")
        let convs = nodes.filter { $0.opType == "Conv" }
        XCTAssertEqual(convs.count, 2)
        // The int8 conv reads the dequantized input, and its weight and bias through DequantizeLinear.
        let input = try XCTUnwrap(producer(convs[0].inputs[0]))
        XCTAssertEqual(input.opType, "DequantizeLinear")
        XCTAssertEqual(producer(input.inputs[0])?.opType, "QuantizeLinear")
        XCTAssertEqual(producer(input.inputs[0])?.inputs[0], "x")
        XCTAssertEqual(try initializer(input.inputs[1])?.floats(directory: nil), [0.02])
        XCTAssertEqual(initializer(input.inputs[2])?.dataType, ONNXTensor.DataType.uint8.rawValue)
        XCTAssertEqual(try initializer(input.inputs[2])?.ints(directory: nil), [128])
        for (k, expected) in [(1, weights.map { Int($0) }), (2, [120, -7, 3001])] {
            let dq = try XCTUnwrap(producer(convs[0].inputs[k]))
            XCTAssertEqual(dq.opType, "DequantizeLinear")
            XCTAssertEqual(dq.attributes.first { $0.name == "axis" }?.int, 0)
            let stored = try XCTUnwrap(initializer(dq.inputs[0]))
            XCTAssertEqual(stored.dataType, k == 1 ? ONNXTensor.DataType.int8.rawValue : ONNXTensor.DataType.int32.rawValue)
            XCTAssertEqual(try stored.ints(directory: nil), expected)
            XCTAssertEqual(try initializer(dq.inputs[1])?.floats(directory: nil), g.parameters[k - 1].quantization?.scales)
        }
        // ReLU, then the 8-bit output's QDQ, then the float head (no table entry: float weights, float output).
        let relu = try XCTUnwrap(producer(try XCTUnwrap(producer(try XCTUnwrap(producer(convs[1].inputs[0])).inputs[0])).inputs[0]))
        XCTAssertEqual(relu.opType, "Relu")
        XCTAssertEqual(initializer(convs[1].inputs[1])?.dataType, ONNXTensor.DataType.float.rawValue)
        XCTAssertEqual(onnx.graph.outputs.map(\.name), ["logits"])
    }
}
