import Kernels

/// A standalone activation node (when it follows a producer that can fuse it, a pass moves it there).
/// Every kind is the file op "activation", told apart by its attribute `kind`.
public enum ActivationKind: OperatorDefinition {
    case relu
    case leakyRelu(slope: Float)
    case sigmoid

    /// The form a conv, transposed conv, add or BatchNorm can apply as it stores; nil for sigmoid.
    public var fused: FusedActivation? {
        switch self {
        case .relu: return .relu
        case .leakyRelu(let s): return .leakyRelu(slope: s)
        case .sigmoid: return nil
        }
    }

    public static let fileName = "activation"
    public var op: Op { .activation(self) }

    public var kind: String {
        switch self {
        case .relu: return "relu"
        case .leakyRelu: return "leaky_relu"
        case .sigmoid: return "sigmoid"
        }
    }

    public func encode(into a: inout NodeAttributeWriter) {
        a.string("kind", kind)
        if case .leakyRelu(let s) = self { a.float("slope", s) }
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        switch a.string("kind") {
        case "relu": return .activation(.relu)
        case "leaky_relu": return .activation(.leakyRelu(slope: try a.float("slope")))
        case "sigmoid": return .activation(.sigmoid)
        default: throw a.fail("unknown activation '\(a.attributes["kind"]?.description ?? "missing")'")
        }
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape { operands[0] }
}

extension ActivationKind {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let kind = self
        return PreparedOp { r in
            let x = r.x, output = r.output
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in
                switch kind {
                case .relu: F32Activations.relu(x, output: output, range: range)
                case .leakyRelu(let slope): F32Activations.leakyRelu(x, slope: slope, output: output, range: range)
                case .sigmoid: F32Activations.sigmoid(x, output: output, range: range)
                }
            }
        }
    }
}

extension ActivationKind {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        var out = context.zeros()
        for j in 0..<out.data.count {
            let v = operands[0].data[j]
            switch self {
            case .relu: out.data[j] = v < 0 ? 0 : v
            case .leakyRelu(let slope): out.data[j] = v < 0 ? v * Double(slope) : v
            case .sigmoid: out.data[j] = LayerReference.sigmoid(v)
            }
        }
        return out
    }
}

extension ActivationKind {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let x = tape.values[tape.graph.nodes[i].inputs[0]]
        switch self {
        case .relu:
            let threads = tape.threads
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
                let a = xp.baseAddress!, o = op.baseAddress!
                ParallelFor.run(count: op.count, threads: threads) { range, _ in F32Activations.relu(a, output: o, range: range) }
            } }
        case .leakyRelu(let slope): for k in 0..<out.count { out[k] = x[k] > 0 ? x[k] : x[k] * slope }
        case .sigmoid: for k in 0..<out.count { out[k] = Exp.sigmoid(x[k]) }
        }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], y = tape.values[i]
        var dx = [Float](repeating: 0, count: dyIn.count)
        switch self {
        case .relu:
            let threads = tape.threads
            y.withUnsafeBufferPointer { yp in dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
                let yb = yp.baseAddress!, db = dp.baseAddress!, xb = xp.baseAddress!
                ParallelFor.run(count: xp.count, threads: threads) { range, _ in
                    F32LayerBackward.activation(.relu, output: yb, outputGradient: db, inputGradient: xb, range: range)
                }
            } } }
        case .leakyRelu(let slope):
            let x = tape.values[j]
            for k in 0..<dx.count { dx[k] = x[k] > 0 ? dyIn[k] : dyIn[k] * slope }
        case .sigmoid: for k in 0..<dx.count { dx[k] = dyIn[k] * y[k] * (1 - y[k]) }
        }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension ActivationKind {
    /// fp32 in int8 models (ReLU is fused into its producer by the passes; sigmoid gates stay float).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
