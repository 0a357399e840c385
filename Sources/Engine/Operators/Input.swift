/// A graph input (no operands): the caller's tensor, which must have `channels` channels and
/// `spatialRank` spatial axes (2 for images, 3 for volumes).
public struct InputNode: OperatorDefinition {
    public var channels: Int
    public var spatialRank: Int

    public init(channels: Int, spatialRank: Int = 2) {
        self.channels = channels
        self.spatialRank = spatialRank
    }

    public static let fileName = "input"
    public var kind: String { "input" }
    public var op: Op { .input(self) }
    public var operandCount: ClosedRange<Int> { 0...0 }
    public var quantizationRole: QuantizationRole { .int8 }

    /// `spatial_rank` is written for volumes only (absent means 2, as format 2.0 wrote images).
    public func encode(into a: inout NodeAttributeWriter) {
        a.int("channels", channels)
        if spatialRank != 2 { a.int("spatial_rank", spatialRank) }
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        let rank = try a.int("spatial_rank", default: 2)
        if rank != 2 && rank != 3 { throw a.fail("inputs have 2 or 3 spatial axes, got \(rank)") }
        return .input(InputNode(channels: try a.int("channels"), spatialRank: rank))
    }

    /// `operands` holds the shape the caller gives this input.
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let s = operands[0]
        if s.channels != channels { throw context.fail("input has \(s.channels) channels, the model takes \(channels)") }
        if s.spatialRank != spatialRank {
            throw context.fail("input \(s) has \(s.spatialRank) spatial axes, the model takes \(spatialRank) (\(spatialRank == 3 ? "volumes" : "images"))")
        }
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
    public var backwardReadsOutput: Bool { false }
    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {}
}

extension InputNode {
    /// Inputs arrive as Float; `Int8Program` makes their values itself.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
