import Kernels

/// Channel concatenation of two or more operands with the same spatial size.
public struct Concat: OperatorDefinition {
    public init() {}
    public static let fileName = "concat"
    public var kind: String { "concat" }
    public var op: Op { .concat(self) }
    public var operandCount: ClosedRange<Int> { 2...Int.max }
    public var quantizationRole: QuantizationRole { .int8 }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .concat }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        var out = operands[0]
        for s in operands.dropFirst() {
            if s.batch != out.batch || s.spatial != out.spatial {
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

extension Concat {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        var out = context.zeros()
        let s = out.shape
        var c0 = 0
        for x in operands {
            for n in 0..<s.batch { for c in 0..<x.shape.channels { for y in 0..<s.rows { for xx in 0..<s.width {
                out.data[out.index(n, c0 + c, y, xx)] = x.data[x.index(n, c, y, xx)]
            } } } }
            c0 += x.shape.channels
        }
        return out
    }
}

extension Concat {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let total = tape.shapes[i].channels
        var offset = 0
        out.withUnsafeMutableBufferPointer { dst in
            for j in tape.graph.nodes[i].inputs {
                tape.copyValue(j, into: dst.baseAddress! + offset, rowStride: total)
                offset += tape.shapes[j].channels
            }
        }
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let s = tape.shapes[i]
        var offset = 0
        let pixels = s.batch * s.pixelsPerImage, total = s.channels, threads = tape.threads
        // The operands' outputs were kept only to recompute this concatenation: gone before their gradients come.
        for j in tape.graph.nodes[i].inputs { tape.releaseOperand(j, readLastBy: i) }
        for j in tape.graph.nodes[i].inputs {
            let c = tape.shapes[j].channels, o0 = offset
            var dx = Autograd.uninitialized(pixels * c)
            dyIn.withUnsafeBufferPointer { src in dx.withUnsafeMutableBufferPointer { dst in
                let sp = src.baseAddress!, dp = dst.baseAddress!
                ParallelFor.run(count: pixels, threads: threads) { range, _ in
                    for p in range { (dp + p * c).update(from: sp + p * total + o0, count: c) }
                }
            } }
            Autograd.accumulate(&grads[j], dx)
            offset += c
        }
    }
}

extension Concat {
    /// Int8 when the node and every operand are quantized (each operand requantized to the output's scale).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i]
        guard let py = program.quantization[node.name] else { return nil }
        var parts: [(value: Int, parameters: Q8TensorParameters)] = []
        for j in node.inputs { if let v = program.q8Value(j) { parts.append(v) } }
        guard parts.count == node.inputs.count else { return nil }
        let inputs = parts.map { $0.parameters }
        let kernel = Int8Program.Kernel { r in
            var sources: [(UnsafePointer<UInt8>, Int, Q8TensorParameters)] = []
            for (k, p) in r.operands.enumerated() {
                sources.append((UnsafePointer(p.assumingMemoryBound(to: UInt8.self)), r.operandShapes[k].channels, inputs[k]))
            }
            let dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: r.pixels, threads: r.threads) { range, _ in Q8Elementwise.concat(sources, output: dst, py, pixels: range) }
        }
        return program.addStep(kernel, parts.map { $0.value }, i, program.shapes[i], .q8(py))
    }
}

extension Op {
    public static var concat: Op { .concat(Concat()) }
}
