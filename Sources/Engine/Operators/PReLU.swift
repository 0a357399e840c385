import Kernels

/// `x > 0 ? x : slope * x` with a learned slope per channel, or one for all (PyTorch `PReLU`). Parameter
/// `slope` holds `channels` values or 1. fp32 in int8 models (a float island).
public struct PReLU: OperatorDefinition {
    public var slope: Int

    public init(slope: Int) { self.slope = slope }

    public static let fileName = "prelu"
    public var kind: String { "prelu" }
    public var op: Op { .prelu(self) }
    public var parameterIndices: [Int] { [slope] }

    public func remappingParameters(_ map: (Int) -> Int) -> Op { .prelu(PReLU(slope: map(slope))) }
    public func encode(into a: inout NodeAttributeWriter) { a.int("slope", slope) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .prelu(PReLU(slope: try a.int("slope"))) }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let c = operands[0].channels, count = context.parameters[slope].elementCount
        if count != 1 { try context.expect(parameter: slope, count: c, "slope") }
        return operands[0]
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let a = context.floats(slope)
        return PreparedOp { r in
            a.withUnsafeBufferPointer { ap in
                let x = r.x, y = r.output, s = ap.baseAddress!, channels = r.shape.channels
                ParallelFor.run(count: r.pixels, threads: r.threads) { pixels, _ in
                    F32Pointwise.prelu(x, slope: s, slopes: ap.count, channels: channels, output: y, pixels: pixels)
                }
            }
        }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let a = context.values(slope)
        var out = operands[0]
        let s = out.shape
        for n in 0..<s.batch { for c in 0..<s.channels { for y in 0..<s.rows { for x in 0..<s.width {
            let k = out.index(n, c, y, x)
            if out.data[k] <= 0 { out.data[k] *= a[a.count == 1 ? 0 : c] }
        } } } }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let s = tape.shapes[i], a = tape.parameter(slope)
        tape.values[tape.graph.nodes[i].inputs[0]].withUnsafeBufferPointer { xp in a.withUnsafeBufferPointer { ap in
            out.withUnsafeMutableBufferPointer { yp in
                F32Pointwise.prelu(xp.baseAddress!, slope: ap.baseAddress!, slopes: ap.count, channels: s.channels, output: yp.baseAddress!,
                                   pixels: 0..<(s.batch * s.pixelsPerImage))
            }
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let s = tape.shapes[i], j = tape.graph.nodes[i].inputs[0], a = tape.parameter(slope)
        var dx = Autograd.uninitialized(dy.count), da = [Float](repeating: 0, count: a.count)
        tape.values[j].withUnsafeBufferPointer { xp in a.withUnsafeBufferPointer { ap in dy.withUnsafeBufferPointer { dp in
            dx.withUnsafeMutableBufferPointer { xg in da.withUnsafeMutableBufferPointer { ag in
                F32Pointwise.preluBackward(xp.baseAddress!, slope: ap.baseAddress!, slopes: ap.count, channels: s.channels,
                                           outputGradient: dp.baseAddress!, inputGradient: xg.baseAddress!, slopeGradient: ag.baseAddress!,
                                           pixels: 0..<(s.batch * s.pixelsPerImage))
            } }
        } } }
        tape.addGradient(slope, da)
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
