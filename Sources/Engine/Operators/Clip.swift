import Kernels

/// Clamps every element to `[low, high]` (PyTorch `clamp`, ONNX `Clip`; ReLU6 is clip 0..6).
/// fp32 in int8 models (a float island).
public struct Clip: OperatorDefinition {
    public var low: Float
    public var high: Float

    public init(low: Float, high: Float) {
        self.low = low
        self.high = high
    }

    public static let fileName = "clip"
    public var kind: String { "clip" }
    public var op: Op { .clip(self) }

    public func encode(into a: inout NodeAttributeWriter) {
        a.float("min", low)
        a.float("max", high)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .clip(Clip(low: try a.float("min"), high: try a.float("max")))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if !(low <= high) { throw context.fail("clip needs min <= max, got \(low) > \(high)") }
        return operands[0]
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let low = self.low, high = self.high
        return PreparedOp { r in
            let x = r.x, y = r.output
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in
                F32Pointwise.clip(x, low: low, high: high, output: y, range: range)
            }
        }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        var out = operands[0]
        for i in 0..<out.data.count { out.data[i] = min(max(out.data[i], Double(low)), Double(high)) }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let low = self.low, high = self.high
        tape.values[tape.graph.nodes[i].inputs[0]].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { yp in
            F32Pointwise.clip(xp.baseAddress!, low: low, high: high, output: yp.baseAddress!, range: 0..<yp.count)
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0]
        var dx = Autograd.uninitialized(dy.count)
        tape.values[j].withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer {
            F32Pointwise.clipBackward(xp.baseAddress!, low: low, high: high, outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!,
                                      range: 0..<dp.count)
        } } }
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
