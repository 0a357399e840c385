/// Softmax over channels, at every pixel.
public struct Softmax: OperatorDefinition {
    public static let fileName = "softmax"
    public var kind: String { "softmax" }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .softmax }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape { operands[0] }
}
