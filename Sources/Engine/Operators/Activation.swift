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
