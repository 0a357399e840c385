import Kernels

/// Window geometry of max and average pooling (square windows, PyTorch's `MaxPool2d`/`AvgPool2d`;
/// average pooling divides by the taps inside the image).
public struct PoolAttributes: Equatable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(kernel: Int, stride: Int, padding: Int = 0) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public func geometry(_ input: TensorShape) -> Pool2dGeometry {
        Pool2dGeometry(batch: input.batch, channels: input.channels, inHeight: input.height, inWidth: input.width,
                       kernel: kernel, stride: stride, padding: padding)
    }

    func encode(into a: inout NodeAttributeWriter) {
        a.ints("kernel", [kernel, kernel])
        a.ints("stride", [stride, stride])
        a.ints("padding", [padding, padding])
    }

    static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> PoolAttributes {
        PoolAttributes(kernel: try a.square("kernel"), stride: try a.square("stride"), padding: try a.square("padding"))
    }

    func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let g = geometry(operands[0])
        if let error = g.validate() { throw context.fail("\(error)") }
        var out = operands[0]
        out.height = g.outHeight
        out.width = g.outWidth
        return out
    }
}

public struct MaxPool2d: OperatorDefinition {
    public var window: PoolAttributes
    public init(_ window: PoolAttributes) { self.window = window }

    public static let fileName = "max_pool2d"
    public var kind: String { "max_pool2d" }
    public func encode(into a: inout NodeAttributeWriter) { window.encode(into: &a) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .maxPool2d(try PoolAttributes.decode(a)) }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        try window.outputShape(operands, context)
    }
}

public struct AveragePool2d: OperatorDefinition {
    public var window: PoolAttributes
    public init(_ window: PoolAttributes) { self.window = window }

    public static let fileName = "avg_pool2d"
    public var kind: String { "avg_pool2d" }
    public func encode(into a: inout NodeAttributeWriter) { window.encode(into: &a) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .averagePool2d(try PoolAttributes.decode(a)) }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        try window.outputShape(operands, context)
    }
}

/// Adaptive average pooling to `bins x bins` (PSPNet's pyramid; 1 is global average pooling).
public struct AdaptiveAveragePool2d: OperatorDefinition {
    public var bins: Int

    public static let fileName = "adaptive_avg_pool2d"
    public var kind: String { "adaptive_avg_pool2d" }
    public func encode(into a: inout NodeAttributeWriter) { a.int("bins", bins) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .adaptiveAveragePool2d(bins: try a.int("bins")) }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if bins <= 0 { throw context.fail("adaptive pooling needs positive bins, got \(bins)") }
        var out = operands[0]
        out.height = bins
        out.width = bins
        return out
    }
}

extension MaxPool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let g = window.geometry(context.x)
        return PreparedOp { r in
            eachImageRows(r.xs, r.shape, r.x, r.output, r.threads) { src, dst, rows in
                F32Pooling.maxPool(g, input: src, output: dst, indices: nil, rows: rows)
            }
        }
    }
}

extension AveragePool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let g = window.geometry(context.x)
        return PreparedOp { r in
            eachImageRows(r.xs, r.shape, r.x, r.output, r.threads) { src, dst, rows in
                F32Pooling.averagePool(g, input: src, output: dst, rows: rows)
            }
        }
    }
}

extension AdaptiveAveragePool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let bins = self.bins
        return PreparedOp { r in
            var one = r.xs.image
            one.batch = 1
            for n in 0..<r.shape.batch {
                F32Pooling.adaptiveAveragePool(one, outHeight: bins, outWidth: bins,
                                               input: r.x + n * r.xs.elementsPerImage, output: r.output + n * r.shape.elementsPerImage)
            }
        }
    }
}
