import Kernels

/// Elementwise sum of two operands of the same shape, with an optional fused activation.
public struct Add: OperatorDefinition {
    public var activation: FusedActivation

    public static let fileName = "add"
    public var kind: String { "add" }
    public var operandCount: ClosedRange<Int> { 2...2 }
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
    public static let fileName = "mul"
    public var kind: String { "mul" }
    public var operandCount: ClosedRange<Int> { 2...2 }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .mul }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0], g = operands[1]
        let spatialGate = g.channels == 1 && g.height == x.height && g.width == x.width
        let channelGate = g.channels == x.channels && g.height == 1 && g.width == 1
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
                let perImage = shape.height * shape.width
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
