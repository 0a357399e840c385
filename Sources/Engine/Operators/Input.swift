/// A graph input (no operands): the caller's tensor, which must have `channels` channels.
public struct InputNode: OperatorDefinition {
    public var channels: Int

    public static let fileName = "input"
    public var kind: String { "input" }
    public var op: Op { .input(channels: channels) }
    public var operandCount: ClosedRange<Int> { 0...0 }
    public var quantizationRole: QuantizationRole { .int8 }

    public func encode(into a: inout NodeAttributeWriter) { a.int("channels", channels) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .input(channels: try a.int("channels")) }

    /// `operands` holds the shape the caller gives this input.
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let s = operands[0]
        if s.channels != channels { throw context.fail("input has \(s.channels) channels, the model takes \(channels)") }
        return s
    }
}

extension InputNode {
    /// The executor copies the caller's tensor in; there is nothing to run.
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp { PreparedOp { _ in } }
}

extension InputNode {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor { operands[0] }
}

extension InputNode {
    public func trainingForward(_ tape: Autograd, node i: Int, output: inout [Float]) throws(GraphError) {}
    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {}
}

extension InputNode {
    /// Inputs arrive as Float; `Int8Program` makes their values itself.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
