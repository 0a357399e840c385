import Kernels

/// Encodes and decodes the graph section: nodes (name, op, operands, attributes) and outputs. Parameters
/// are stored in the tensor directory and referenced here by index. Format 2 writes each op by name with
/// named, typed attributes (`NodeAttributes`); format 1 files (op codes, positional attributes) still read.
enum GraphCoding {
    /// `describe` gives each node's op name and attributes (the tests change them to write files from a
    /// later or a broken writer).
    static func encode(_ graph: Graph, into w: inout ByteWriter,
                       describe: (Node) -> (op: String, attributes: Metadata) = { ($0.op.fileName, NodeAttributes.encode($0.op)) }) {
        w.u32(UInt32(graph.nodes.count))
        for node in graph.nodes {
            let (op, attributes) = describe(node)
            w.string(node.name)
            w.string(op)
            w.u32(UInt32(node.inputs.count))
            for i in node.inputs { w.u32(UInt32(i)) }
            ModelFileWriter.encodeMetadata(attributes, &w)
        }
        w.u32(UInt32(graph.outputs.count))
        for o in graph.outputs {
            w.string(o.name)
            w.u32(UInt32(o.node))
        }
    }

    static func decode(_ r: inout ByteReader, parameterCount: Int, majorVersion: Int) throws(ModelFileError) -> Graph {
        var g = Graph()
        let nodeCount = try r.count("node", limit: ModelFileLayout.maxNodes, minBytesEach: 9)
        for index in 0..<nodeCount {
            let name = try r.string()
            var code: OpCode? = nil, opName = ""
            if majorVersion == 1 {
                let rawCode = try r.u8()
                guard let c = OpCode(rawValue: rawCode) else {
                    throw .invalid(section: "graph", "node \(index) ('\(name)') has unknown op code \(rawCode)")
                }
                code = c
            } else {
                opName = try r.string()
            }
            let operandCount = try r.count("operand", limit: 1 << 16, minBytesEach: 4)
            var inputs: [Int] = []
            for _ in 0..<operandCount {
                let i = Int(try r.u32())
                if i >= index { throw .invalid(section: "graph", "node \(index) ('\(name)') reads node \(i), which does not precede it") }
                inputs.append(i)
            }
            let op: Op
            if let code {
                op = try decodeAttributes(code, &r, node: name)
            } else {
                op = try NodeAttributes.decode(opName, try ModelFileReader.decodeMetadata(&r, section: "graph"), node: name)
            }
            g.nodes.append(Node(name: name, op: op, inputs: inputs))
        }
        let outputCount = try r.count("output", limit: ModelFileLayout.maxNodes, minBytesEach: 8)
        for _ in 0..<outputCount {
            let name = try r.string()
            g.outputs.append(GraphOutput(name: name, node: Int(try r.u32())))
        }
        return g
    }

    private static func decodeActivation(_ r: inout ByteReader, node: String) throws(ModelFileError) -> FusedActivation {
        let kind = try r.u8(), slope = try r.f32()
        switch kind {
        case 0: return .none
        case 1: return .relu
        case 2: return .leakyRelu(slope: slope)
        default: throw .invalid(section: "graph", "node '\(node)' has unknown fused activation \(kind)")
        }
    }

    private static func optionalIndex(_ v: Int) -> Int? { v < 0 ? nil : v }

    private static func decodeAttributes(_ code: OpCode, _ r: inout ByteReader, node: String) throws(ModelFileError) -> Op {
        switch code {
        case .input: return .input(InputNode(channels: try r.i32()))
        case .conv2d:
            var v: [Int] = []
            for _ in 0..<14 { v.append(try r.i32()) }
            let window = SpatialWindow(kernel: [v[1], v[2]], stride: [v[3], v[4]], dilation: [v[5], v[6]],
                                       padBegin: [v[7], v[8]], padEnd: [v[9], v[10]])
            return .conv2d(ConvAttributes(outChannels: v[0], window: window, groups: v[11], weight: v[12], bias: optionalIndex(v[13]),
                                          activation: try decodeActivation(&r, node: node)))
        case .convTranspose2d:
            var v: [Int] = []
            for _ in 0..<7 { v.append(try r.i32()) }
            return .convTranspose2d(ConvTransposeAttributes(outChannels: v[0], kernel: v[1], stride: v[2], padding: v[3],
                                                            outputPadding: v[4], weight: v[5], bias: optionalIndex(v[6]),
                                                            activation: try decodeActivation(&r, node: node)))
        case .maxPool2d, .averagePool2d:
            let a = PoolAttributes(kernel: try r.i32(), stride: try r.i32(), padding: try r.i32())
            return code == .maxPool2d ? .maxPool2d(a) : .averagePool2d(a)
        case .adaptiveAveragePool2d: return .adaptiveAveragePool2d(bins: try r.i32())
        case .upsample:
            let mode: UpsampleMode
            switch try r.u8() {
            case 0: mode = .nearest
            case 1: mode = .bilinear(alignCorners: false)
            case 2: mode = .bilinear(alignCorners: true)
            default: throw .invalid(section: "graph", "node '\(node)' has an unknown upsampling mode")
            }
            return .upsample(UpsampleAttributes(mode: mode, scale: try r.i32()))
        case .concat: return .concat
        case .add: return .add(try decodeActivation(&r, node: node))
        case .mul: return .mul
        case .softmax: return .softmax
        case .batchNorm:
            let gamma = try r.i32(), beta = try r.i32(), mean = try r.i32(), variance = try r.i32()
            return .batchNorm(BatchNormAttributes(gamma: gamma, beta: beta, mean: mean, variance: variance,
                                                  epsilon: try r.f32(), activation: try decodeActivation(&r, node: node)))
        case .activation:
            let kind = try r.u8(), slope = try r.f32()
            switch kind {
            case 1: return .activation(.relu)
            case 2: return .activation(.leakyRelu(slope: slope))
            case 3: return .activation(.sigmoid)
            default: throw .invalid(section: "graph", "node '\(node)' has unknown activation \(kind)")
            }
        }
    }
}
