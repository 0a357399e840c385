import Kernels

/// Softmax over channels, at every pixel.
public struct Softmax: OperatorDefinition {
    public static let fileName = "softmax"
    public var kind: String { "softmax" }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .softmax }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape { operands[0] }
}


extension Softmax {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        PreparedOp { r in
            let x = r.x, output = r.output, channels = r.shape.channels
            ParallelFor.run(count: r.pixels, threads: r.threads) { range, _ in
                F32Elementwise.softmaxChannels(x, channels: channels, output: output, pixels: range)
            }
        }
    }
}
