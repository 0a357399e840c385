import Kernels

public enum UpsampleMode: Equatable {
    case nearest
    case bilinear(alignCorners: Bool)
}

/// Resampling by an integer scale, or (`scale == 0`) to the spatial size of the node's second input.
public struct UpsampleAttributes: OperatorDefinition {
    public var mode: UpsampleMode
    public var scale: Int

    public init(mode: UpsampleMode, scale: Int) {
        self.mode = mode
        self.scale = scale
    }

    public static let fileName = "upsample"
    public var kind: String { "upsample" }
    public var operandCount: ClosedRange<Int> { scale == 0 ? 2...2 : 1...1 }

    public func encode(into a: inout NodeAttributeWriter) {
        switch mode {
        case .nearest: a.string("mode", "nearest")
        case .bilinear(let alignCorners): a.string("mode", "bilinear"); a.int("align_corners", alignCorners ? 1 : 0)
        }
        a.int("scale", scale)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        let mode: UpsampleMode
        switch a.string("mode") {
        case "nearest": mode = .nearest
        case "bilinear": mode = .bilinear(alignCorners: try a.int("align_corners", default: 0) != 0)
        default: throw a.fail("unknown upsampling mode '\(a.attributes["mode"]?.description ?? "missing")'")
        }
        return .upsample(UpsampleAttributes(mode: mode, scale: try a.int("scale")))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        var out = operands[0]
        if scale == 0 {
            out.height = operands[1].height
            out.width = operands[1].width
        } else if scale > 0 {
            out.height *= scale
            out.width *= scale
        } else {
            throw context.fail("upsampling scale must be positive, got \(scale)")
        }
        return out
    }
}

extension UpsampleAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let mode = self.mode
        return PreparedOp { r in
            var one = r.xs.image
            one.batch = 1
            let shape = r.shape
            eachImageRows(r.xs, shape, r.x, r.output, r.threads) { src, dst, rows in
                switch mode {
                case .nearest:
                    F32Upsample.nearest(one, outHeight: shape.height, outWidth: shape.width, input: src, output: dst, rows: rows)
                case .bilinear(let alignCorners):
                    F32Upsample.bilinear(one, outHeight: shape.height, outWidth: shape.width, alignCorners: alignCorners,
                                         input: src, output: dst, rows: rows)
                }
            }
        }
    }
}
