import Kernels
import Engine

/// Writes a segrun model as a standard ONNX file (opset 17, IR version 8): one or a few ONNX nodes per
/// segrun node, parameters as float32 initializers (raw_data), the model's metadata as `metadata_props`
/// (segrun's keys, which `segrun import` reads back). The switch over `Op` below has no `default:`, so a new
/// operator does not compile until it has an ONNX form.
///
/// An int8 model is written in the QDQ form ONNX Runtime's quantizer writes: its int8 weights and Int32
/// biases as integer initializers behind DequantizeLinear (per output channel, with their stored scales),
/// and every activation that segrun holds in 8 bits passed through QuantizeLinear and DequantizeLinear with
/// its scale and zero point, so a runtime computes what segrun's int8 program computes, up to rounding.
public enum ONNXExporter {
    public static let opset: Int64 = 17
    public static let irVersion: Int64 = 8

    /// The ONNX bytes of `model`. `size` ([D,] H, W) fixes the input's spatial dims (needed by adaptive
    /// pooling to more than one bin, which ONNX expresses as a fixed-window AveragePool); without it they
    /// are symbolic.
    public static func export(_ model: Model, size: [Int]? = nil) throws(ONNXError) -> [UInt8] {
        let quantization: ActivationQuantization?
        do { quantization = try model.activationQuantization() } catch { throw .invalid("\(error)") }
        var builder = ExportBuilder(model: model, size: size, quantization: quantization)
        try builder.build()
        return builder.encode()
    }
}

private struct ExportBuilder {
    let model: Model
    let size: [Int]?
    /// The activation table of an int8 model (nil for fp32): the nodes whose outputs get QuantizeLinear and
    /// DequantizeLinear.
    let quantization: ActivationQuantization?
    /// The model's graph without its training-only (deep-supervision) outputs.
    let graph: Graph
    var nodes: [[UInt8]] = []
    var initializers: [[UInt8]] = []
    var valueNames: [String] = []
    var usedNames: Set<String> = []
    var shapes: [TensorShape]?
    var inputInfo: [UInt8] = []
    var outputInfos: [[UInt8]] = []
    /// The ONNX value holding each parameter already written (an int8 one: its DequantizeLinear's output).
    var parameterValues: [Int: String] = [:]

    init(model: Model, size: [Int]?, quantization: ActivationQuantization?) {
        self.model = model
        self.size = size
        self.quantization = quantization
        graph = model.graph.droppingAuxiliaryOutputs()
    }

    mutating func unique(_ base: String) -> String {
        var name = base.isEmpty ? "v" : base
        var k = 2
        while usedNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
        usedNames.insert(name)
        return name
    }

    mutating func build() throws(ONNXError) {
        let inputs = graph.inputNodes
        guard inputs.count == 1, case .input(let input) = graph.nodes[inputs[0]].op else {
            throw .invalid("segrun exports models with one input; this one has \(inputs.count)")
        }
        if let size {
            guard size.count == input.spatialRank else { throw .invalid("--size gives \(size.count) axes for a \(input.spatialRank)D model") }
            let shape = TensorShape(channels: input.channels, depth: size.count == 3 ? size[0] : nil, height: size[size.count - 2], width: size[size.count - 1])
            do { shapes = try graph.inferShapes([shape]) } catch { throw .invalid("the model does not run at \(size): \(error)") }
        }
        var inputName = ""
        for (i, node) in graph.nodes.enumerated() {
            let name = unique(node.name)
            guard let q = quantization?[node.name] else {
                valueNames.append(name)
                try add(node, index: i)
                if i == inputs[0] { inputName = name }
                continue
            }
            // An 8-bit activation: the operator writes its float value, which QuantizeLinear rounds to
            // segrun's grid and DequantizeLinear hands to the readers. (The graph input keeps its name.)
            let isInput = i == inputs[0]
            let float = isInput ? name : unique(node.name + ".float")
            valueNames.append(float)
            try add(node, index: i)
            if isInput { inputName = float }
            let scale = initializer(node.name + ".scale", dims: [], floats: [q.scale])
            let zeroPoint = integerInitializer(node.name + ".zero_point", dims: [], type: .uint8, values: [Int(q.zeroPoint)])
            let quantized = self.node("QuantizeLinear", [float, scale, zeroPoint], unique(node.name + ".quantized"))
            valueNames[i] = self.node("DequantizeLinear", [quantized, scale, zeroPoint], isInput ? unique(node.name + ".dequantized") : name)
        }
        let spatial = input.spatialRank == 3 ? ["depth", "height", "width"] : ["height", "width"]
        inputInfo = valueInfo(inputName, dims: [.symbol("batch"), .value(input.channels)] + spatial.enumerated().map { (k, name) in
            size.map { .value($0[k]) } ?? .symbol(name)
        })
        // Output channels from shape inference at the given size, or at a probe size the model accepts.
        let probe = size ?? Array(repeating: 2 * model.inputMultiple, count: input.spatialRank)
        let probeShape = TensorShape(channels: input.channels, depth: probe.count == 3 ? probe[0] : nil, height: probe[probe.count - 2], width: probe[probe.count - 1])
        let probed = try? graph.inferShapes([probeShape])
        for output in graph.outputs {
            var name = valueNames[output.node]
            let channels: Dim = probed.map { .value($0[output.node].channels) } ?? .symbol("channels")
            let outputDims = [Dim.symbol("batch"), channels] + spatial.enumerated().map { (k, axis) in size.map { .value(probed?[output.node].spatial[k] ?? $0[k]) } ?? .symbol("out_" + axis) }
            if output.name != name {
                let alias = unique(output.name)
                node("Identity", [name], alias)
                name = alias
            }
            outputInfos.append(valueInfo(name, dims: outputDims))
        }
    }

    enum Dim { case value(Int), symbol(String) }

    func valueInfo(_ name: String, dims: [Dim]?) -> [UInt8] {
        var w = ProtobufWriter()
        w.string(1, name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, 1)
                if let dims {
                    tensor.message(2) { shape in
                        for d in dims {
                            shape.message(1) { dim in
                                switch d {
                                case .value(let v): dim.int(1, Int64(v))
                                case .symbol(let s): dim.string(2, s)
                                }
                            }
                        }
                    }
                }
            }
        }
        return w.bytes
    }

    // MARK: emitting

    enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)
        case string(String, String)
    }

    @discardableResult
    mutating func node(_ opType: String, _ inputs: [String], _ output: String, _ attributes: [Attribute] = []) -> String {
        var w = ProtobufWriter()
        for i in inputs { w.string(1, i) }
        w.string(2, output)
        w.string(3, output)
        w.string(4, opType)
        for a in attributes {
            w.message(5) { m in
                switch a {
                case .int(let n, let v): m.string(1, n); m.int(3, Int64(v)); m.int(20, 2)
                case .ints(let n, let v): m.string(1, n); m.packedInts(8, v.map { Int64($0) }); m.int(20, 7)
                case .float(let n, let v): m.string(1, n); m.float(2, v); m.int(20, 1)
                case .string(let n, let v): m.string(1, n); m.string(4, v); m.int(20, 3)
                }
            }
        }
        nodes.append(w.bytes)
        return output
    }

    mutating func initializer(_ name: String, dims: [Int], floats: [Float]) -> String {
        let unique = unique(name)
        var w = ProtobufWriter()
        w.packedInts(1, dims.map { Int64($0) })
        w.int(2, 1)
        w.string(8, unique)
        var raw: [UInt8] = []
        raw.reserveCapacity(floats.count * 4)
        for v in floats {
            let bits = v.bitPattern
            for k in 0..<4 { raw.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
        }
        w.bytes(9, raw)
        initializers.append(w.bytes)
        return unique
    }

    /// ONNX's element types of the integer initializers written here.
    enum IntegerType: Int64 {
        case uint8 = 2, int8 = 3, int32 = 6, int64 = 7
        var bytes: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int32: return 4
            case .int64: return 8
            }
        }
    }

    /// An integer initializer stored as raw little-endian bytes.
    mutating func integerInitializer(_ name: String, dims: [Int], type: IntegerType, values: [Int]) -> String {
        let unique = unique(name)
        var w = ProtobufWriter()
        w.packedInts(1, dims.map { Int64($0) })
        w.int(2, type.rawValue)
        w.string(8, unique)
        var raw: [UInt8] = []
        raw.reserveCapacity(values.count * type.bytes)
        for v in values {
            for k in 0..<type.bytes { raw.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        }
        w.bytes(9, raw)
        initializers.append(w.bytes)
        return unique
    }

    /// A one-dimensional int64 tensor (shapes, pads, slice bounds).
    mutating func integers(_ name: String, _ values: [Int]) -> String {
        integerInitializer(name, dims: [values.count], type: .int64, values: values)
    }

    mutating func parameter(_ index: Int, shape: [Int]? = nil) -> String {
        let p = graph.parameters[index]
        if shape == nil, let written = parameterValues[index] { return written }
        let value: String
        switch p.data {
        case .i8(let v) where p.quantization != nil && shape == nil:
            value = dequantized(p, type: .int8, values: v.map { Int($0) })
        case .i32(let v) where p.quantization != nil && shape == nil:
            value = dequantized(p, type: .int32, values: v.map { Int($0) })
        default:
            return initializer(p.name, dims: shape ?? p.shape, floats: p.floats)
        }
        parameterValues[index] = value
        return value
    }

    /// An integer parameter (int8 weights, Int32 biases) behind DequantizeLinear with its stored scales and
    /// zero points: per tensor, or per channel along its quantization axis.
    mutating func dequantized(_ p: Parameter, type: IntegerType, values: [Int]) -> String {
        let q = p.quantization!
        let perChannel = q.scales.count > 1
        let dims = perChannel ? [q.scales.count] : []
        let stored = integerInitializer(p.name + ".quantized", dims: p.shape, type: type, values: values)
        let scales = initializer(p.name + ".scale", dims: dims, floats: q.scales)
        let zeroPoints = (0..<q.scales.count).map { $0 < q.zeroPoints.count ? Int(q.zeroPoints[$0]) : 0 }
        let zeroPoint = integerInitializer(p.name + ".zero_point", dims: dims, type: type, values: zeroPoints)
        return node("DequantizeLinear", [stored, scales, zeroPoint], unique(p.name), perChannel ? [.int("axis", q.axis)] : [])
    }

    /// A per-channel vector shaped to broadcast over N x C x [D x] H x W.
    mutating func channelVector(_ index: Int, rank: Int) -> String {
        let p = graph.parameters[index]
        return initializer(p.name, dims: [p.elementCount] + Array(repeating: 1, count: rank), floats: p.floats)
    }

    mutating func activation(_ f: FusedActivation, _ x: String, _ out: String) {
        switch f {
        case .none: break
        case .relu: node("Relu", [x], out)
        case .leakyRelu(let slope): node("LeakyRelu", [x], out, [.float("alpha", slope)])
        }
    }

    /// The output name of the main ONNX node, which a fused activation then reads.
    mutating func withActivation(_ f: FusedActivation, _ out: String) -> String { f == .none ? out : unique(out + "_pre") }

    func windowAttributes(_ w: SpatialWindow, dilation: Bool = true) -> [Attribute] {
        var a: [Attribute] = [.ints("kernel_shape", w.kernel), .ints("strides", w.stride), .ints("pads", w.padBegin + w.padEnd)]
        if dilation { a.append(.ints("dilations", w.dilation)) }
        return a
    }

    // MARK: the operators

    mutating func add(_ node: Node, index i: Int) throws(ONNXError) {
        let out = valueNames[i]
        let x = node.inputs.map { valueNames[$0] }
        let rank = shapes?[i].spatialRank ?? spatialRank(i)
        switch node.op {
        case .input:
            break
        case .conv2d(let a):
            var inputs = [x[0], parameter(a.weight)]
            if let b = a.bias { inputs.append(parameter(b)) }
            let main = withActivation(a.activation, out)
            self.node("Conv", inputs, main, windowAttributes(a.window) + [.int("group", a.groups)])
            activation(a.activation, main, out)
        case .convTranspose2d(let a):
            var inputs = [x[0], parameter(a.weight)]
            if let b = a.bias { inputs.append(parameter(b)) }
            let main = withActivation(a.activation, out)
            self.node("ConvTranspose", inputs, main, windowAttributes(a.window, dilation: false) + [.ints("output_padding", a.outputPadding)])
            activation(a.activation, main, out)
        case .maxPool2d(let a):
            self.node("MaxPool", [x[0]], out, windowAttributes(a.window.window, dilation: false))
        case .averagePool2d(let a):
            self.node("AveragePool", [x[0]], out, windowAttributes(a.window.window, dilation: false) + [.int("count_include_pad", 0)])
        case .adaptiveAveragePool2d(let a):
            let bins = a.bins
            if bins == 1 {
                self.node("GlobalAveragePool", [x[0]], out)
            } else {
                guard let shapes else {
                    throw .unsupported(node: node.name, opType: "adaptive_avg_pool2d", reason: "pooling to \(bins) bins has no ONNX form at a symbolic size: give --size")
                }
                let input = shapes[node.inputs[0]]
                guard input.height % bins == 0, input.width % bins == 0 else {
                    throw .unsupported(node: node.name, opType: "adaptive_avg_pool2d", reason: "\(input.height)x\(input.width) does not divide into \(bins) bins")
                }
                let k = [input.height / bins, input.width / bins]
                self.node("AveragePool", [x[0]], out, [.ints("kernel_shape", k), .ints("strides", k)])
            }
        case .upsample(let a):
            let mode: [Attribute]
            switch a.mode {
            case .nearest: mode = [.string("mode", "nearest"), .string("coordinate_transformation_mode", "asymmetric"), .string("nearest_mode", "floor")]
            case .bilinear(let corners): mode = [.string("mode", "linear"), .string("coordinate_transformation_mode", corners ? "align_corners" : "half_pixel")]
            }
            if let factors = a.factors {
                let scales = initializer("\(out).scales", dims: [2 + factors.count], floats: [1, 1] + factors)
                self.node("Resize", [x[0], "", scales], out, mode)
            } else if a.scale > 0 {
                let scales = initializer("\(out).scales", dims: [2 + rank], floats: [1, 1] + Array(repeating: Float(a.scale), count: rank))
                self.node("Resize", [x[0], "", scales], out, mode)
            } else {
                // To the spatial size of the second operand: sizes = Shape(x)[0:2] ++ Shape(ref)[2:].
                let shapeX = self.node("Shape", [x[0]], unique("\(out).shape_x"))
                let shapeRef = self.node("Shape", [x[1]], unique("\(out).shape_ref"))
                let zero = integers("\(out).zero", [0]), two = integers("\(out).two", [2]), end = integers("\(out).end", [Int(Int32.max)])
                let head = self.node("Slice", [shapeX, zero, two], unique("\(out).batch_channels"))
                let tail = self.node("Slice", [shapeRef, two, end], unique("\(out).spatial"))
                let sizes = self.node("Concat", [head, tail], unique("\(out).sizes"), [.int("axis", 0)])
                self.node("Resize", [x[0], "", "", sizes], out, mode)
            }
        case .concat:
            self.node("Concat", x, out, [.int("axis", 1)])
        case .add(let a):
            let f = a.activation
            let main = withActivation(f, out)
            self.node("Add", x, main)
            activation(f, main, out)
        case .mul:
            self.node("Mul", x, out)
        case .batchNorm(let a):
            let main = withActivation(a.activation, out)
            self.node("BatchNormalization", [x[0], parameter(a.gamma), parameter(a.beta), parameter(a.mean), parameter(a.variance)], main,
                      [.float("epsilon", a.epsilon)])
            activation(a.activation, main, out)
        case .activation(let kind):
            switch kind {
            case .relu: self.node("Relu", x, out)
            case .leakyRelu(let slope): self.node("LeakyRelu", x, out, [.float("alpha", slope)])
            case .sigmoid: self.node("Sigmoid", x, out)
            }
        case .softmax:
            self.node("Softmax", x, out, [.int("axis", 1)])
        case .clip(let c):
            let low = initializer("\(out).min", dims: [], floats: [c.low]), high = initializer("\(out).max", dims: [], floats: [c.high])
            self.node("Clip", [x[0], low, high], out)
        case .prelu(let p):
            let count = graph.parameters[p.slope].elementCount
            let slope = count == 1 ? parameter(p.slope, shape: [1]) : channelVector(p.slope, rank: rank)
            self.node("PRelu", [x[0], slope], out)
        case .pad(let p):
            let r = p.pads.count / 2
            let pads = integers("\(out).pads", [0, 0] + Array(p.pads[..<r]) + [0, 0] + Array(p.pads[r...]))
            let value = initializer("\(out).value", dims: [], floats: [p.value])
            self.node("Pad", [x[0], pads, value], out, [.string("mode", "constant")])
        case .groupNorm(let g):
            let channels = graph.parameters[g.gamma].elementCount
            if g.groups == channels {
                self.node("InstanceNormalization", [x[0], parameter(g.gamma), parameter(g.beta)], out, [.float("epsilon", g.epsilon)])
            } else {
                // Opset 17 has no GroupNormalization: the exporters' pattern, which `segrun import` reads back.
                let grouped = self.node("Reshape", [x[0], integers("\(out).grouped", [0, g.groups, -1])], unique("\(out).grouped"))
                let ones = initializer("\(out).ones", dims: [g.groups], floats: [Float](repeating: 1, count: g.groups))
                let zeros = initializer("\(out).zeros", dims: [g.groups], floats: [Float](repeating: 0, count: g.groups))
                let normalized = self.node("InstanceNormalization", [grouped, ones, zeros], unique("\(out).normalized"), [.float("epsilon", g.epsilon)])
                let shape = self.node("Shape", [x[0]], unique("\(out).shape"))
                let back = self.node("Reshape", [normalized, shape], unique("\(out).ungrouped"))
                let scaled = self.node("Mul", [back, channelVector(g.gamma, rank: rank)], unique("\(out).scaled"))
                self.node("Add", [scaled, channelVector(g.beta, rank: rank)], out)
            }
        case .globalMaxPool:
            self.node("GlobalMaxPool", x, out)
        case .presenceGate(let g):
            // Where(presence > 0, logits, closed); the ungated channels get a presence of 1 (Pad in front).
            var presence = x[1]
            if g.firstGated > 0 {
                let pads = integers("\(out).pads", [0, g.firstGated] + Array(repeating: 0, count: rank) + [0, 0] + Array(repeating: 0, count: rank))
                let one = initializer("\(out).one", dims: [], floats: [1])
                presence = self.node("Pad", [presence, pads, one], unique("\(out).presence"), [.string("mode", "constant")])
            }
            let zero = initializer("\(out).zero", dims: [], floats: [0])
            let open = self.node("Greater", [presence, zero], unique("\(out).open"))
            let closed = initializer("\(out).closed", dims: [], floats: [PresenceGate.closed])
            self.node("Where", [open, x[0], closed], out)
        }
    }

    /// The spatial rank of node i's output, without shapes: its input's.
    func spatialRank(_ i: Int) -> Int {
        var k = i
        while !graph.nodes[k].inputs.isEmpty { k = graph.nodes[k].inputs[0] }
        if case .input(let a) = graph.nodes[k].op { return a.spatialRank }
        return 2
    }

    func encode() -> [UInt8] {
        var m = ProtobufWriter()
        m.int(1, ONNXExporter.irVersion)
        m.string(2, "segrun")
        m.string(3, SegrunVersion.string)
        m.message(7) { g in
            for n in nodes { g.bytes(1, n) }
            g.string(2, model.metadata[MetadataKey.architecture]?.description ?? "segrun")
            for t in initializers { g.bytes(5, t) }
            g.bytes(11, inputInfo)
            for o in outputInfos { g.bytes(12, o) }
        }
        m.message(8) { o in
            o.string(1, "")
            o.int(2, ONNXExporter.opset)
        }
        var metadata = model.metadata
        if let size, size.count == 2, metadata[MetadataKey.inputSize] == nil {
            // A model exported at a fixed size runs at that size when imported back.
            metadata[MetadataKey.inputSize] = .floats(size.map { Float($0) })
        }
        for (key, value) in metadata.entries {
            m.message(14) { e in
                e.string(1, key)
                e.string(2, value.description)
            }
        }
        return m.bytes
    }
}
