import Kernels

/// Softmax over channels, at every pixel.
public struct Softmax: OperatorDefinition {
    public init() {}
    public static let fileName = "softmax"
    public var kind: String { "softmax" }
    public var op: Op { .softmax(self) }
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

extension Softmax {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0]
        var out = context.zeros()
        let s = out.shape
        for n in 0..<s.batch { for y in 0..<s.rows { for xx in 0..<s.width {
            var m = -Double.infinity
            for c in 0..<s.channels { m = max(m, x.data[out.index(n, c, y, xx)]) }
            var sum = 0.0
            for c in 0..<s.channels { sum += LayerReference.exp64(x.data[out.index(n, c, y, xx)] - m) }
            for c in 0..<s.channels {
                out.data[out.index(n, c, y, xx)] = LayerReference.exp64(x.data[out.index(n, c, y, xx)] - m) / sum
            }
        } } }
        return out
    }
}

extension Softmax {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let s = tape.shapes[i]
        tape.values[tape.graph.nodes[i].inputs[0]].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
            F32Elementwise.softmaxChannels(xp.baseAddress!, channels: s.channels, output: $0.baseAddress!, pixels: 0..<(s.batch * s.pixelsPerImage))
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let s = tape.shapes[i], y = tape.values[i]
        var dx = [Float](repeating: 0, count: s.elementCount)
        let c = s.channels
        for p in 0..<(s.elementCount / c) {
            var dot: Float = 0
            for ch in 0..<c { dot += dyIn[p * c + ch] * y[p * c + ch] }
            for ch in 0..<c { dx[p * c + ch] = y[p * c + ch] * (dyIn[p * c + ch] - dot) }
        }
        Autograd.accumulate(&grads[tape.graph.nodes[i].inputs[0]], dx)
    }
}

extension Softmax {
    /// fp32 in int8 models (a float island at the head).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}

extension Op {
    public static var softmax: Op { .softmax(Softmax()) }
}
