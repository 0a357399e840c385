import Kernels

/// What a node computes: one case per operator family. Each node produces one tensor; `Node.inputs`
/// lists its operands in order. The families themselves (attributes, file coding, shapes, execution)
/// live in this folder, one file each; this file only registers them.
///
/// Registering an operator is one line here, `case name(FamilyType)`, in the order of docs/FORMAT.md's
/// table. `scripts/generate-operator-table` writes the rest from these lines (`OperatorTable.swift`: the one
/// switch over all operators and the model file's decoder list); `scripts/test` fails when it is stale.
public enum Op: Equatable {
    /// A graph input; no operands.
    case input(InputNode)
    case conv2d(ConvAttributes)
    case convTranspose2d(ConvTransposeAttributes)
    case maxPool2d(MaxPool2d)
    case averagePool2d(AveragePool2d)
    /// Adaptive average pooling to `bins x bins` (PSPNet's pyramid; 1 is global average pooling).
    case adaptiveAveragePool2d(AdaptiveAveragePool2d)
    /// One operand, or two when `scale == 0` (the second gives the output size).
    case upsample(UpsampleAttributes)
    /// Channel concatenation of two or more operands with the same spatial size.
    case concat(Concat)
    /// Elementwise sum of two operands of the same shape, with an optional fused activation.
    case add(Add)
    /// Elementwise product; the second operand may have 1 channel (a spatial gate, attention) or
    /// be 1x1 in space (a channel gate).
    case mul(Mul)
    case batchNorm(BatchNormAttributes)
    case activation(ActivationKind)
    /// Softmax over channels.
    case softmax(Softmax)
    case clip(Clip)
    case prelu(PReLU)
    case pad(ConstantPad)
    case groupNorm(GroupNorm)
    case globalMaxPool(GlobalMaxPool)
    case presenceGate(PresenceGate)
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

    /// Whether a node's backward reads its own forward output (`OperatorDefinition.backwardReadsOutput`).
    public var backwardReadsOutput: Bool {
        var v = BackwardReadsOutputVisitor()
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

private struct BackwardReadsOutputVisitor: OperatorVisitor {
    func visit<O: OperatorDefinition>(_ op: O) -> Bool { op.backwardReadsOutput }
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
