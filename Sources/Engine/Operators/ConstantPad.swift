import Kernels

/// Pads the spatial axes with a constant (PyTorch `F.pad(mode="constant")`, ONNX `Pad`): `pads` are the
/// begins then the ends of each spatial axis (`[top, left, bottom, right]` for an image, 6 values for a
/// volume, `[left, right]` for a 1D signal), each at least 0. fp32 in int8 models (a float island).
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
        let count: Int
        if case .ints(let v)? = a.attributes["pads"], [2, 4, 6].contains(v.count) { count = v.count } else { count = 4 }
        return .pad(ConstantPad(pads: try a.ints("pads", count: count), value: try a.float("value")))
    }

    /// The padding as a window of kernel 1 and stride 1, one axis per pair of pads.
    var window: SpatialWindow {
        let r = pads.count / 2, ones = Array(repeating: 1, count: r)
        return SpatialWindow(kernel: ones, stride: ones, dilation: ones, padBegin: Array(pads[..<r]), padEnd: Array(pads[r...]))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if pads.isEmpty || pads.count % 2 != 0 || pads.contains(where: { $0 < 0 }) {
            throw context.fail("pads must be the begins then the ends of each spatial axis, each >= 0, got \(pads)")
        }
        return try window.outputShape(operands[0], context)
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let top = window.axis3(1).padBegin, left = window.axis3(2).padBegin, value = self.value
        if let inDepth = context.x.depth {
            // A volume: each output slice is its input slice padded in-plane, or all `value` in the depth padding.
            let front = window.axis3(0).padBegin, xs = context.x, s = context.output, outDepth = s.depth ?? 1
            return PreparedOp { r in
                ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { items, _ in
                    for item in items {
                        let n = item / outDepth, z = item % outDepth, iz = z - front, out = VolumeSlices.slice(r.output, s, image: n, depth: z)
                        if iz < 0 || iz >= inDepth { out.update(repeating: value, count: s.height * s.width * s.channels); continue }
                        F32Pointwise.pad(VolumeSlices.slice(r.x, xs, image: n, depth: iz), inHeight: xs.height, inWidth: xs.width, channels: s.channels,
                                         top: top, left: left, value: value, output: out, outHeight: s.height, outWidth: s.width, rows: 0..<s.height)
                    }
                }
            }
        }
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
        let s = out.shape, w = window, (pz, py, px) = (w.axis3(0).padBegin, w.axis3(1).padBegin, w.axis3(2).padBegin)
        for n in 0..<s.batch { for c in 0..<s.channels { for z in 0..<(s.depth ?? 1) { for y in 0..<s.height { for xx in 0..<s.width {
            let iz = z - pz, iy = y - py, ix = xx - px
            let inside = iz >= 0 && iz < (x.shape.depth ?? 1) && iy >= 0 && iy < x.shape.height && ix >= 0 && ix < x.shape.width
            out.data[out.index(n, c, z, y, xx)] = inside ? x.data[x.index(n, c, iz, iy, ix)] : Double(value)
        } } } } }
        return out
    }

    /// Training pads (and its backward crops) one depth slice at a time: an image is one slice, a volume's
    /// output slices in the depth padding are all `value` and receive no gradient.
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], xs = tape.shapes[j], s = tape.shapes[i], front = window.axis3(0).padBegin
        let inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1, plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels
        let top = window.axis3(1).padBegin, left = window.axis3(2).padBegin, value = self.value
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { yp in
            let x = xp.baseAddress!, y = yp.baseAddress!
            ParallelFor.run(count: s.batch * outDepth, threads: tape.threads) { items, _ in
                for item in items {
                    let n = item / outDepth, iz = item % outDepth - front, dst = y + item * plane
                    if iz < 0 || iz >= inDepth { dst.update(repeating: value, count: plane); continue }
                    F32Pointwise.pad(x + (n * inDepth + iz) * inPlane, inHeight: xs.height, inWidth: xs.width, channels: s.channels,
                                     top: top, left: left, value: value, output: dst, outHeight: s.height, outWidth: s.width, rows: 0..<s.height)
                }
            }
        } }
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], xs = tape.shapes[j], s = tape.shapes[i], front = window.axis3(0).padBegin
        let inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1, plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels
        let top = window.axis3(1).padBegin, left = window.axis3(2).padBegin
        var dx = Autograd.uninitialized(xs.elementCount)
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
            let d = dp.baseAddress!, x = xp.baseAddress!
            ParallelFor.run(count: s.batch * inDepth, threads: tape.threads) { items, _ in
                for item in items {
                    let n = item / inDepth, z = item % inDepth + front
                    F32Pointwise.crop(d + (n * outDepth + z) * plane, outHeight: s.height, outWidth: s.width, channels: s.channels,
                                      top: top, left: left, inputGradient: x + item * inPlane, inHeight: xs.height, inWidth: xs.width)
                }
            }
        } }
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
