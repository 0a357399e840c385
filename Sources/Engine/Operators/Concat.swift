import Kernels

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

extension Concat {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        PreparedOp { r in
            var parts: [(UnsafePointer<Float>, Int)] = []
            for (i, p) in r.inputs.enumerated() { parts.append((UnsafePointer(p), r.inputShapes[i].channels)) }
            ParallelFor.run(count: r.pixels, threads: r.threads) { range, _ in
                F32Elementwise.concatChannels(parts, output: r.output, pixels: range)
            }
        }
    }
}
