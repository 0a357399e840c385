import Kernels

/// What a node computes: one case per operator family. Each node produces one tensor; `Node.inputs`
/// lists its operands in order. The families themselves (attributes, file coding, shapes, execution)
/// live in this folder, one file each; this file only registers them.
public enum Op: Equatable {
    /// A graph input; no operands.
    case input(InputNode)
    case conv2d(ConvAttributes)
    case convTranspose2d(ConvTransposeAttributes)
    case maxPool2d(PoolAttributes)
    case averagePool2d(PoolAttributes)
    /// Adaptive average pooling to `bins x bins` (PSPNet's pyramid; 1 is global average pooling).
    case adaptiveAveragePool2d(bins: Int)
    /// One operand, or two when `scale == 0` (the second gives the output size).
    case upsample(UpsampleAttributes)
    /// Channel concatenation of two or more operands with the same spatial size.
    case concat
    /// Elementwise sum of two operands of the same shape, with an optional fused activation.
    case add(FusedActivation)
    /// Elementwise product; the second operand may have 1 channel (a spatial gate, attention) or
    /// be 1x1 in space (a channel gate).
    case mul
    case batchNorm(BatchNormAttributes)
    case activation(ActivationKind)
    /// Softmax over channels.
    case softmax
    case clip(Clip)
    case prelu(PReLU)
    case pad(ConstantPad)
    case groupNorm(GroupNorm)

    /// Hands this node's operator, as its own type, to `visitor`: the one switch over all operators.
    public func visit<V: OperatorVisitor>(_ visitor: inout V) throws(V.Failure) -> V.Result {
        switch self {
        case .input(let a): return try visitor.visit(a)
        case .conv2d(let a): return try visitor.visit(a)
        case .convTranspose2d(let a): return try visitor.visit(a)
        case .maxPool2d(let a): return try visitor.visit(MaxPool2d(a))
        case .averagePool2d(let a): return try visitor.visit(AveragePool2d(a))
        case .adaptiveAveragePool2d(let bins): return try visitor.visit(AdaptiveAveragePool2d(bins: bins))
        case .upsample(let a): return try visitor.visit(a)
        case .concat: return try visitor.visit(Concat())
        case .add(let activation): return try visitor.visit(Add(activation: activation))
        case .mul: return try visitor.visit(Mul())
        case .batchNorm(let a): return try visitor.visit(a)
        case .activation(let kind): return try visitor.visit(kind)
        case .softmax: return try visitor.visit(Softmax())
        case .clip(let a): return try visitor.visit(a)
        case .prelu(let a): return try visitor.visit(a)
        case .pad(let a): return try visitor.visit(a)
        case .groupNorm(let a): return try visitor.visit(a)
        }
    }

    /// Every op the model file reader knows, by file name, with its decoder (FORMAT.md's order).
    static let decoders: [(name: String, decode: (NodeAttributeReader) throws(ModelFileError) -> Op)] = [
        (InputNode.fileName, InputNode.decode),
        (ConvAttributes.fileName, ConvAttributes.decode),
        (ConvTransposeAttributes.fileName, ConvTransposeAttributes.decode),
        (MaxPool2d.fileName, MaxPool2d.decode),
        (AveragePool2d.fileName, AveragePool2d.decode),
        (AdaptiveAveragePool2d.fileName, AdaptiveAveragePool2d.decode),
        (UpsampleAttributes.fileName, UpsampleAttributes.decode),
        (Concat.fileName, Concat.decode),
        (Add.fileName, Add.decode),
        (Mul.fileName, Mul.decode),
        (BatchNormAttributes.fileName, BatchNormAttributes.decode),
        (ActivationKind.fileName, ActivationKind.decode),
        (Softmax.fileName, Softmax.decode),
        (Clip.fileName, Clip.decode),
        (PReLU.fileName, PReLU.decode),
        (ConstantPad.fileName, ConstantPad.decode),
        (GroupNorm.fileName, GroupNorm.decode),
    ]
}

extension Op {
    /// A short lowercase name for listings and error messages.
    public var kind: String {
        var v = KindVisitor()
        return visit(&v)
    }

    /// The op's name in a model file.
    public var fileName: String {
        var v = FileNameVisitor()
        return visit(&v)
    }

    /// How many operands a node of this op takes.
    public var operandCount: ClosedRange<Int> {
        var v = OperandCountVisitor()
        return visit(&v)
    }

    /// What post-training quantization does with a node of this op.
    public var quantizationRole: QuantizationRole {
        var v = QuantizationRoleVisitor()
        return visit(&v)
    }

    /// The same op with every parameter index passed through `map`.
    public func remappingParameters(_ map: (Int) -> Int) -> Op {
        withoutActuallyEscaping(map) { escapable in
            var v = RemapVisitor(map: escapable)
            return visit(&v)
        }
    }

    /// The op applying `activation` as it stores, when it can and has none yet.
    public func fusing(_ activation: FusedActivation) -> Op? {
        var v = FusingVisitor(activation: activation)
        return visit(&v)
    }

    /// The parameter indices a node of this op reads.
    public var parameterIndices: [Int] {
        var v = ParameterIndicesVisitor()
        return visit(&v)
    }

    /// The bias parameter added to each output channel last, if the op has one (`OperatorDefinition.outputBias`).
    public var outputBias: Int? {
        var v = OutputBiasVisitor()
        return visit(&v)
    }
}

private struct KindVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> String { op.kind }
}

private struct FileNameVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> String { O.fileName }
}

private struct OperandCountVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> ClosedRange<Int> { op.operandCount }
}

private struct ParameterIndicesVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> [Int] { op.parameterIndices }
}

private struct OutputBiasVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> Int? { op.outputBias }
}

private struct QuantizationRoleVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> QuantizationRole { op.quantizationRole }
}

private struct RemapVisitor: OperatorVisitor {
    let map: (Int) -> Int
    func visit<O: OperatorDefinition>(_ op: O) -> Op { op.remappingParameters(map) }
}

private struct FusingVisitor: OperatorVisitor {
    let activation: FusedActivation
    func visit<O: OperatorDefinition>(_ op: O) -> Op? { op.fusing(activation) }
}
