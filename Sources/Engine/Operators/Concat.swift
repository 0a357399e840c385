/// Channel concatenation of two or more operands with the same spatial size.
public struct Concat: OperatorDefinition {
    public static let fileName = "concat"
    public var kind: String { "concat" }
    public var operandCount: ClosedRange<Int> { 2...Int.max }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .concat }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        var out = operands[0]
        for s in operands.dropFirst() {
            if s.batch != out.batch || s.height != out.height || s.width != out.width {
                throw context.fail("cannot concatenate \(out) with \(s): spatial sizes differ")
            }
            out.channels += s.channels
        }
        return out
    }
}
