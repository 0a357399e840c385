/// A node of the graph: an operation on the outputs of earlier nodes.
public struct Node: Equatable {
    public var name: String
    public var op: Op
    /// Indices of the nodes whose outputs this node reads, in operand order. Always earlier nodes.
    public var inputs: [Int]

    public init(name: String, op: Op, inputs: [Int]) {
        self.name = name
        self.op = op
        self.inputs = inputs
    }
}

/// Per-channel affine quantization of an integer parameter: `real = scale[c] * (q - zeroPoint[c])`
/// along `axis` (one entry each for per-tensor quantization).
public struct Quantization: Equatable {
    public var axis: Int
    public var scales: [Float]
    public var zeroPoints: [Int32]

    public init(axis: Int, scales: [Float], zeroPoints: [Int32]) {
        self.axis = axis
        self.scales = scales
        self.zeroPoints = zeroPoints
    }
}

/// The stored values of a parameter tensor.
public enum ParameterData: Equatable {
    case f32([Float])
    case i8([Int8])
    case i32([Int32])

    public var count: Int {
        switch self {
        case .f32(let v): return v.count
        case .i8(let v): return v.count
        case .i32(let v): return v.count
        }
    }
}

/// A named constant tensor: weights, biases, normalization statistics.
public struct Parameter: Equatable {
    public var name: String
    public var shape: [Int]
    public var data: ParameterData
    public var quantization: Quantization?

    public init(name: String, shape: [Int], data: ParameterData, quantization: Quantization? = nil) {
        self.name = name
        self.shape = shape
        self.data = data
        self.quantization = quantization
    }

    public init(name: String, shape: [Int], values: [Float]) {
        self.init(name: name, shape: shape, data: .f32(values))
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The float values (f32 parameters; integer ones are dequantized with their quantization, if any).
    public var floats: [Float] {
        switch data {
        case .f32(let v): return v
        case .i32(let v): return dequantized(v.count) { Int32(v[$0]) }
        case .i8(let v): return dequantized(v.count) { Int32(v[$0]) }
        }
    }

    private func dequantized(_ count: Int, _ value: (Int) -> Int32) -> [Float] {
        guard let q = quantization, !q.scales.isEmpty else { return (0..<count).map { Float(value($0)) } }
        let inner = shape.count > q.axis ? shape[(q.axis + 1)...].reduce(1, *) : 1
        let channels = q.scales.count
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let c = channels == 1 ? 0 : (i / inner) % channels
            let zp = c < q.zeroPoints.count ? q.zeroPoints[c] : 0
            out[i] = q.scales[c] * Float(value(i) - zp)
        }
        return out
    }
}

/// A named graph output.
public struct GraphOutput: Equatable {
    public var name: String
    public var node: Int

    public init(name: String, node: Int) {
        self.name = name
        self.node = node
    }

    /// Outputs named `auxK` are deep-supervision heads of a U-Net's decoder level K (1/2^K of the input's
    /// resolution, upsampled back): training weighs them into the loss, inference and export drop them.
    public static func auxiliaryName(level: Int) -> String { "aux\(level)" }

    /// The decoder level of an auxiliary output (`auxiliaryName`), or nil for an output inference uses.
    public var auxiliaryLevel: Int? {
        guard name.hasPrefix("aux"), let level = Int(String(name.dropFirst(3))), level > 0 else { return nil }
        return level
    }

    public var isAuxiliary: Bool { auxiliaryLevel != nil }
}

/// The one IR of segrun: the trainer differentiates it, the passes rewrite it, the executor runs it
/// and the model file stores it. Nodes are in topological order (operands precede their users).
public struct Graph: Equatable {
    public var nodes: [Node] = []
    public var parameters: [Parameter] = []
    public var outputs: [GraphOutput] = []

    public init() {}

    /// Indices of the input nodes, in order.
    public var inputNodes: [Int] {
        var list: [Int] = []
        for (i, node) in nodes.enumerated() { if case .input = node.op { list.append(i) } }
        return list
    }

    /// Parameter indices a node reads.
    public func parameterIndices(of op: Op) -> [Int] { op.parameterIndices }

    /// The number of parameters (learned and statistics) the graph holds.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.elementCount } }

    /// For each node, how many operands and graph outputs read it.
    public func useCounts() -> [Int] {
        var uses = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs { uses[i] += 1 } }
        for output in outputs { uses[output.node] += 1 }
        return uses
    }

    /// Checks the structure: operand indices point backwards, parameter indices exist and have the
    /// element counts the ops imply, outputs exist. Shapes are checked by `inferShapes`.
    public func validate() throws(GraphError) {
        for (i, node) in nodes.enumerated() {
            for input in node.inputs where input < 0 || input >= i {
                throw .badOperand(node: node.name, operand: input)
            }
            let arity = node.op.operandCount
            if !arity.contains(node.inputs.count) {
                throw .badArity(node: node.name, kind: node.op.kind, got: node.inputs.count)
            }
            for p in parameterIndices(of: node.op) where p < 0 || p >= parameters.count {
                throw .badParameter(node: node.name, index: p)
            }
        }
        if outputs.isEmpty { throw .noOutputs }
        for output in outputs where output.node < 0 || output.node >= nodes.count {
            throw .badOutput(name: output.name, node: output.node)
        }
        for p in parameters where p.elementCount != p.data.count || p.shape.contains(where: { $0 <= 0 }) {
            throw .parameterSize(name: p.name, expected: p.elementCount, got: p.data.count)
        }
    }
}

/// Why a graph cannot be run. Each case names the node or parameter at fault.
public enum GraphError: Error, Equatable, CustomStringConvertible {
    case badOperand(node: String, operand: Int)
    case badArity(node: String, kind: String, got: Int)
    case badParameter(node: String, index: Int)
    case badOutput(name: String, node: Int)
    case noOutputs
    case parameterSize(name: String, expected: Int, got: Int)
    case shape(node: String, String)
    case inputCount(expected: Int, got: Int)
    /// Inputs too large to plan (`MemoryBudget`).
    case tooLarge(String)

    public var description: String {
        switch self {
        case .badOperand(let n, let o): return "node '\(n)' reads node \(o), which does not precede it"
        case .badArity(let n, let k, let got): return "node '\(n)' (\(k)) has \(got) operands"
        case .badParameter(let n, let i): return "node '\(n)' refers to missing parameter \(i)"
        case .badOutput(let name, let n): return "output '\(name)' refers to missing node \(n)"
        case .noOutputs: return "the graph has no outputs"
        case .parameterSize(let name, let e, let g): return "parameter '\(name)': shape holds \(e) values, data has \(g)"
        case .shape(let n, let what): return "node '\(n)': \(what)"
        case .inputCount(let e, let g): return "the graph takes \(e) inputs, got \(g)"
        case .tooLarge(let what): return what
        }
    }
}
