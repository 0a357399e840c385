import Kernels

/// Elementwise sum of two operands of the same shape, with an optional fused activation.
public struct Add: OperatorDefinition {
    public var activation: FusedActivation
    public init(activation: FusedActivation) { self.activation = activation }

    public static let fileName = "add"
    public var kind: String { "add" }
    public var op: Op { .add(self) }
    public func fusing(_ f: FusedActivation) -> Op? { activation == .none ? .add(f) : nil }
    public var operandCount: ClosedRange<Int> { 2...2 }
    public var quantizationRole: QuantizationRole { .int8 }
    public func encode(into a: inout NodeAttributeWriter) { a.activation(activation) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .add(try a.activation()) }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if operands[0] != operands[1] { throw context.fail("cannot add \(operands[0]) and \(operands[1])") }
        return operands[0]
    }
}

/// Elementwise product; the second operand may have 1 channel (a spatial gate, attention) or be 1x1 in
/// space (a channel gate, squeeze-and-excitation).
public struct Mul: OperatorDefinition {
    public init() {}
    public static let fileName = "mul"
    public var kind: String { "mul" }
    public var op: Op { .mul(self) }
    public var operandCount: ClosedRange<Int> { 2...2 }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .mul }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0], g = operands[1]
        let spatialGate = g.channels == 1 && g.spatial == x.spatial
        let channelGate = g.channels == x.channels && g.spatialRank == x.spatialRank && g.pixelsPerImage == 1
        if g.batch != x.batch || !(x == g || spatialGate || channelGate) {
            throw context.fail("cannot multiply \(x) by \(g): need the same shape, 1 channel or 1x1 pixels")
        }
        return x
    }
}

extension Add {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let activation = self.activation
        return PreparedOp { r in
            let a = r.inputs[0], b = r.inputs[1], output = r.output
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in
                F32Elementwise.add(a, b, output: output, range: range, activation: activation)
            }
        }
    }
}

extension Mul {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        PreparedOp { r in
            let a = r.inputs[0], b = r.inputs[1], gate = r.inputShapes[1], shape = r.shape, output = r.output
            if gate == shape {
                ParallelFor.run(count: shape.elementCount, threads: r.threads) { range, _ in
                    F32Elementwise.multiply(a, b, output: output, range: range)
                }
            } else if gate.channels == 1 && shape.channels != 1 {
                ParallelFor.run(count: r.pixels, threads: r.threads) { range, _ in
                    F32Elementwise.multiplyBySpatial(a, gate: b, channels: shape.channels, output: output, pixels: range)
                }
            } else {
                let perImage = shape.pixelsPerImage
                for n in 0..<shape.batch {
                    let src = a + n * shape.elementsPerImage, dst = output + n * shape.elementsPerImage
                    let scale = b + n * shape.channels
                    ParallelFor.run(count: perImage, threads: r.threads) { range, _ in
                        F32Elementwise.multiplyByChannel(src, scale: scale, channels: shape.channels, output: dst, pixels: range)
                    }
                }
            }
        }
    }
}

extension Add {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        var out = context.zeros()
        for j in 0..<out.data.count { out.data[j] = activation.apply(operands[0].data[j] + operands[1].data[j]) }
        return out
    }
}

extension Mul {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], g = operands[1]
        var out = context.zeros()
        let s = out.shape
        for n in 0..<s.batch { for c in 0..<s.channels { for y in 0..<s.rows { for xx in 0..<s.width {
            let gv = g.data[g.index(n, g.shape.channels == 1 ? 0 : c, g.shape.rows == 1 ? 0 : y, g.shape.width == 1 ? 0 : xx)]
            out.data[out.index(n, c, y, xx)] = x.data[x.index(n, c, y, xx)] * gv
        } } } }
        return out
    }
}

extension Add {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], threads = tape.threads, act = activation
        tape.values[node.inputs[0]].withUnsafeBufferPointer { xp in tape.values[node.inputs[1]].withUnsafeBufferPointer { yp in
            out.withUnsafeMutableBufferPointer { op in
                let a = xp.baseAddress!, b = yp.baseAddress!, o = op.baseAddress!
                ParallelFor.run(count: op.count, threads: threads) { range, _ in F32Elementwise.add(a, b, output: o, range: range, activation: act) }
            }
        } }
    }

    public var backwardReadsOutput: Bool { activation != .none }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i]
        let dy = tape.activationBackward(activation, ofNode: i, dyIn)
        Autograd.accumulate(&grads[node.inputs[0]], dy)
        Autograd.accumulate(&grads[node.inputs[1]], dy)
    }
}

extension Mul {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        let x = tape.values[node.inputs[0]], gate = tape.values[node.inputs[1]], gs = tape.shapes[node.inputs[1]]
        for k in 0..<out.count { out[k] = x[k] * gate[Mul.gateIndex(k, s, gs)] }
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        let a = node.inputs[0], b = node.inputs[1], gs = tape.shapes[b]
        let x = tape.values[a], gate = tape.values[b]
        var dx = [Float](repeating: 0, count: s.elementCount)
        var dgate = [Float](repeating: 0, count: gs.elementCount)
        for k in 0..<dx.count {
            let gi = Mul.gateIndex(k, s, gs)
            dx[k] = dyIn[k] * gate[gi]
            dgate[gi] += dyIn[k] * x[k]
        }
        Autograd.accumulate(&grads[a], dx)
        Autograd.accumulate(&grads[b], dgate)
    }

    /// Flat NHWC index into a gate of shape `gs` (same shape, 1 channel, or 1x1) for output index `k`.
    @inline(__always)
    static func gateIndex(_ k: Int, _ s: TensorShape, _ gs: TensorShape) -> Int {
        if gs == s { return k }
        let c = k % s.channels, p = k / s.channels
        if gs.channels == 1 { return p }
        return (p / (s.pixelsPerImage)) * s.channels + c
    }
}

extension Add {
    /// Int8 when the node and both operands are quantized.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i]
        guard let po = program.quantization[node.name], let a = program.q8Value(node.inputs[0]),
              let b = program.q8Value(node.inputs[1]) else { return nil }
        let pa = a.parameters, pb = b.parameters, activation = self.activation
        let kernel = Int8Program.Kernel { r in
            let x = UnsafePointer(r.operands[0].assumingMemoryBound(to: UInt8.self))
            let y = UnsafePointer(r.operands[1].assumingMemoryBound(to: UInt8.self))
            let dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in
                Q8Elementwise.add(x, pa, y, pb, output: dst, po, activation: activation, range: range)
            }
        }
        return program.addStep(kernel, [a.value, b.value], i, program.shapes[i], .q8(po))
    }
}

extension Mul {
    /// fp32 in int8 models (a float island: attention and SE gates are sigmoids, kept in float).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}

extension Op {
    public static func add(_ activation: FusedActivation) -> Op { .add(Add(activation: activation)) }
    public static var mul: Op { .mul(Mul()) }
}
