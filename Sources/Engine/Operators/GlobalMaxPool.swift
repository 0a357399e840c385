import Kernels

/// The largest value of each channel over all pixels (PyTorch `AdaptiveMaxPool2d(1)`, ONNX `GlobalMaxPool`):
/// N x C x 1 x 1 (x 1 on volumes). UNet 3+'s classification-guided module pools its presence logits with
/// it. The gradient goes to the first pixel holding the maximum. fp32 in int8 models (a float island at the
/// classification head).
public struct GlobalMaxPool: OperatorDefinition {
    public init() {}

    public static let fileName = "global_max_pool"
    public var kind: String { "global_max_pool" }
    public var op: Op { .globalMaxPool(self) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .globalMaxPool(GlobalMaxPool()) }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        var out = operands[0]
        if out.pixelsPerImage == 0 { throw context.fail("global max pooling of \(out): no pixels") }
        out.spatial = Array(repeating: 1, count: out.spatialRank)
        return out
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        PreparedOp { r in
            let xs = r.xs
            for n in 0..<xs.batch {
                F32Pooling.globalMaxPool(r.x + n * xs.elementsPerImage, pixels: xs.pixelsPerImage, channels: xs.channels,
                                         output: r.output + n * xs.channels)
            }
        }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], s = x.shape
        var out = context.zeros()
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                var m = -Double.infinity
                for p in 0..<s.pixelsPerImage {
                    let v = x.data[x.index(n, c, pixel: p)]
                    if v > m || v.isNaN { m = v }
                    if m.isNaN { break }
                }
                out.data[out.index(n, c, pixel: 0)] = m
            }
        }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let xs = tape.shapes[tape.graph.nodes[i].inputs[0]]
        tape.values[tape.graph.nodes[i].inputs[0]].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { yp in
            for n in 0..<xs.batch {
                F32Pooling.globalMaxPool(xp.baseAddress! + n * xs.elementsPerImage, pixels: xs.pixelsPerImage, channels: xs.channels,
                                         output: yp.baseAddress! + n * xs.channels)
            }
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], xs = tape.shapes[j]
        var dx = Autograd.uninitialized(xs.elementCount)
        tape.values[j].withUnsafeBufferPointer { xp in tape.values[i].withUnsafeBufferPointer { yp in dy.withUnsafeBufferPointer { dp in
            dx.withUnsafeMutableBufferPointer { dxp in
                for n in 0..<xs.batch {
                    F32Pooling.globalMaxPoolBackward(xp.baseAddress! + n * xs.elementsPerImage, pixels: xs.pixelsPerImage, channels: xs.channels,
                                                     maximum: yp.baseAddress! + n * xs.channels, outputGradient: dp.baseAddress! + n * xs.channels,
                                                     inputGradient: dxp.baseAddress! + n * xs.elementsPerImage)
                }
            }
        } } }
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
