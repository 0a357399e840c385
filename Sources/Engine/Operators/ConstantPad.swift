import Kernels

/// Pads the spatial axes with a constant (PyTorch `F.pad(mode="constant")`, ONNX `Pad`): `pads` are
/// `[top, left, bottom, right]`, each at least 0. fp32 in int8 models (a float island).
public struct ConstantPad: OperatorDefinition {
    public var pads: [Int]
    public var value: Float

    public init(pads: [Int], value: Float = 0) {
        self.pads = pads
        self.value = value
    }

    public static let fileName = "pad"
    public var kind: String { "pad" }
    public var op: Op { .pad(self) }

    public func encode(into a: inout NodeAttributeWriter) {
        a.ints("pads", pads)
        a.float("value", value)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .pad(ConstantPad(pads: try a.ints("pads", count: 4), value: try a.float("value")))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if pads.count != 4 || pads.contains(where: { $0 < 0 }) { throw context.fail("pads must be 4 values >= 0, got \(pads)") }
        var out = operands[0]
        out.height += pads[0] + pads[2]
        out.width += pads[1] + pads[3]
        return out
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let top = pads[0], left = pads[1], value = self.value
        return PreparedOp { r in
            let xs = r.xs, s = r.shape
            eachImageRows(xs, s, r.x, r.output, r.threads) { src, dst, rows in
                F32Pointwise.pad(src, inHeight: xs.height, inWidth: xs.width, channels: s.channels, top: top, left: left, value: value,
                                 output: dst, outHeight: s.height, outWidth: s.width, rows: rows)
            }
        }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0]
        var out = context.zeros()
        let s = out.shape
        for n in 0..<s.batch { for c in 0..<s.channels { for y in 0..<s.height { for xx in 0..<s.width {
            let iy = y - pads[0], ix = xx - pads[1]
            let inside = iy >= 0 && iy < x.shape.height && ix >= 0 && ix < x.shape.width
            out.data[out.index(n, c, y, xx)] = inside ? x.data[x.index(n, c, iy, ix)] : Double(value)
        } } } }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], xs = tape.shapes[j], s = tape.shapes[i]
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { yp in
            for n in 0..<s.batch {
                F32Pointwise.pad(xp.baseAddress! + n * xs.elementsPerImage, inHeight: xs.height, inWidth: xs.width, channels: s.channels,
                                 top: pads[0], left: pads[1], value: value, output: yp.baseAddress! + n * s.elementsPerImage,
                                 outHeight: s.height, outWidth: s.width, rows: 0..<s.height)
            }
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], xs = tape.shapes[j], s = tape.shapes[i]
        var dx = Autograd.uninitialized(xs.elementCount)
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
            for n in 0..<s.batch {
                F32Pointwise.crop(dp.baseAddress! + n * s.elementsPerImage, outHeight: s.height, outWidth: s.width, channels: s.channels,
                                  top: pads[0], left: pads[1], inputGradient: xp.baseAddress! + n * xs.elementsPerImage,
                                  inHeight: xs.height, inWidth: xs.width)
            }
        } }
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
