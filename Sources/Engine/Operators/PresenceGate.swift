import Kernels

/// UNet 3+'s classification-guided module, applied: segmentation logits (N x C x spatial) pass through for
/// the classes the image's presence logits (N x K x 1...) say are there (logit > 0) and are set to
/// `PresenceGate.closed` (probability 0) for the others. Channels before `firstGated` are never gated (the
/// background of a softmax model), so K = C - firstGated.
///
/// The gate is a step: no gradient reaches the presence logits through it. They learn from their own loss
/// (the trainer's binary cross-entropy on whether each class is in the image); the segmentation logits get
/// the gradient of the channels the gate leaves open. fp32 in int8 models (a float island at the head).
public struct PresenceGate: OperatorDefinition {
    public var firstGated: Int

    public init(firstGated: Int) { self.firstGated = firstGated }

    /// The logit of a closed class: sigmoid and softmax give it probability 0 in Float.
    public static let closed: Float = -1e4

    public static let fileName = "presence_gate"
    public var kind: String { "presence_gate" }
    public var op: Op { .presenceGate(self) }
    public var operandCount: ClosedRange<Int> { 2...2 }
    public func encode(into a: inout NodeAttributeWriter) { a.int("first_gated", firstGated) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .presenceGate(PresenceGate(firstGated: try a.int("first_gated")))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0], p = operands[1]
        if firstGated < 0 || firstGated >= x.channels {
            throw context.fail("presence gate: first gated channel \(firstGated) is outside 0..<\(x.channels)")
        }
        if p.batch != x.batch || p.channels != x.channels - firstGated || p.pixelsPerImage != 1 {
            throw context.fail("presence gate: presence \(p) does not fit logits \(x) (need \(x.batch) x \(x.channels - firstGated) x 1)")
        }
        return x
    }

    /// Which channels of image `n` stay open.
    func open(_ presence: UnsafePointer<Float>, image n: Int, channels: Int) -> [Bool] {
        let k = channels - firstGated
        return (0..<channels).map { c in c < firstGated || presence[n * k + c - firstGated] > 0 }
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        PreparedOp { r in
            let s = r.shape, perImage = s.pixelsPerImage
            for n in 0..<s.batch {
                let open = self.open(r.inputs[1], image: n, channels: s.channels)
                let x = r.x + n * s.elementsPerImage, y = r.output + n * s.elementsPerImage
                open.withUnsafeBufferPointer { o in
                    ParallelFor.run(count: perImage, threads: r.threads) { range, _ in
                        F32Pointwise.gate(x, open: o.baseAddress!, channels: s.channels, closed: PresenceGate.closed, output: y, pixels: range)
                    }
                }
            }
        }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], p = operands[1], s = x.shape
        var out = x
        for n in 0..<s.batch {
            for c in firstGated..<s.channels where !(p.data[p.index(n, c - firstGated, pixel: 0)] > 0) {
                for q in 0..<s.pixelsPerImage { out.data[out.index(n, c, pixel: q)] = Double(PresenceGate.closed) }
            }
        }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        tape.values[node.inputs[0]].withUnsafeBufferPointer { xp in tape.values[node.inputs[1]].withUnsafeBufferPointer { pp in
            out.withUnsafeMutableBufferPointer { yp in
                for n in 0..<s.batch {
                    let open = self.open(pp.baseAddress!, image: n, channels: s.channels)
                    open.withUnsafeBufferPointer { o in
                        F32Pointwise.gate(xp.baseAddress! + n * s.elementsPerImage, open: o.baseAddress!, channels: s.channels,
                                          closed: PresenceGate.closed, output: yp.baseAddress! + n * s.elementsPerImage, pixels: 0..<s.pixelsPerImage)
                    }
                }
            }
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        var dx = Autograd.uninitialized(dy.count)
        tape.values[node.inputs[1]].withUnsafeBufferPointer { pp in dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { dxp in
            for n in 0..<s.batch {
                let open = self.open(pp.baseAddress!, image: n, channels: s.channels)
                open.withUnsafeBufferPointer { o in
                    F32Pointwise.gate(dp.baseAddress! + n * s.elementsPerImage, open: o.baseAddress!, channels: s.channels, closed: 0,
                                      output: dxp.baseAddress! + n * s.elementsPerImage, pixels: 0..<s.pixelsPerImage)
                }
            }
        } } }
        Autograd.accumulate(&grads[node.inputs[0]], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
