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
