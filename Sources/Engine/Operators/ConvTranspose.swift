import Kernels

/// Transposed 2D convolution (PyTorch `ConvTranspose2d`, groups 1). Weight IOHW `[in][out][kh][kw]`.
public struct ConvTransposeAttributes: OperatorDefinition {
    public var outChannels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int
    public var outputPadding: Int
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    public init(outChannels: Int, kernel: Int, stride: Int, padding: Int = 0, outputPadding: Int = 0,
                weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    public func geometry(_ input: TensorShape) -> ConvTranspose2dGeometry {
        ConvTranspose2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height,
                                inWidth: input.width, outChannels: outChannels, kernel: kernel, stride: stride,
                                padding: padding, outputPadding: outputPadding)
    }

    public static let fileName = "conv_transpose2d"
    public var kind: String { "conv_transpose2d" }
    public var parameterIndices: [Int] { bias.map { [weight, $0] } ?? [weight] }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("out_channels", outChannels)
        a.ints("kernel", [kernel, kernel])
        a.ints("stride", [stride, stride])
        a.ints("padding", [padding, padding])
        a.ints("output_padding", [outputPadding, outputPadding])
        a.int("weight", weight)
        if let bias { a.int("bias", bias) }
        a.activation(activation)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .convTranspose2d(ConvTransposeAttributes(outChannels: try a.int("out_channels"), kernel: try a.square("kernel"),
                                                 stride: try a.square("stride"), padding: try a.square("padding"),
                                                 outputPadding: try a.square("output_padding"), weight: try a.int("weight"),
                                                 bias: try a.optionalIndex("bias"), activation: try a.activation()))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0]
        let g = geometry(x)
        if let error = g.validate() { throw context.fail("\(error)") }
        try context.expect(parameter: weight, count: g.weightCount, "weight")
        if let bias { try context.expect(parameter: bias, count: outChannels, "bias") }
        var out = x
        out.channels = outChannels
        out.height = g.outHeight
        out.width = g.outWidth
        return out
    }

    public func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double {
        geometry(operands[0]).directFLOPs / 2
    }
}

extension ConvTransposeAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let g = geometry(context.x)
        let plan = try self.plan(g, weights: context.floats(weight), bias: bias.map { context.floats($0) }, node: context.node)
        return PreparedOp(packedWeightBytes: plan.packedWeightBytes, flops: g.directFLOPs) { r in
            for n in 0..<r.shape.batch {
                let src = UnsafePointer(r.x + n * r.xs.elementsPerImage), dst = r.output + n * r.shape.elementsPerImage
                ParallelFor.run(count: plan.workItems, threads: r.threads) { items, _ in
                    plan.run(input: src, output: dst, items: items)
                }
            }
        }
    }

    /// The fp32 kernel plan for geometry `g` with these weights.
    public func plan(_ g: ConvTranspose2dGeometry, weights w: [Float], bias b: [Float]?, node: Node) throws(GraphError) -> F32ConvTranspose.Plan {
        do {
            return try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                try withOptionalPointer(b) { bp throws(ShapeError) in
                    try F32ConvTranspose.Plan(g, weights: wp.baseAddress!, bias: bp, activation: activation)
                }
            }
        } catch { throw .shape(node: node.name, "\(error)") }
    }
}
