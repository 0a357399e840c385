import Kernels

/// 2D convolution (PyTorch `Conv2d`). Weight parameter OIHW `[out][in/groups][kh][kw]`, bias `[out]`.
public struct ConvAttributes: OperatorDefinition {
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    public var dilationY: Int
    public var dilationX: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var groups: Int
    /// Index into `Graph.parameters`.
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    public init(outChannels: Int, kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int,
                groups: Int = 1, weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        kernelHeight = kernel
        kernelWidth = kernel
        strideY = stride
        strideX = stride
        dilationY = dilation
        dilationX = dilation
        padTop = padding
        padLeft = padding
        padBottom = padding
        padRight = padding
        self.groups = groups
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    /// The kernel geometry for an input shape.
    public func geometry(_ input: TensorShape) -> Conv2dGeometry {
        Conv2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height, inWidth: input.width,
                       outChannels: outChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                       strideY: strideY, strideX: strideX, dilationY: dilationY, dilationX: dilationX,
                       padTop: padTop, padLeft: padLeft, padBottom: padBottom, padRight: padRight, groups: groups)
    }

    public static let fileName = "conv2d"
    public var kind: String { "conv2d" }
    public var parameterIndices: [Int] { bias.map { [weight, $0] } ?? [weight] }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("out_channels", outChannels)
        a.ints("kernel", [kernelHeight, kernelWidth])
        a.ints("stride", [strideY, strideX])
        a.ints("dilation", [dilationY, dilationX])
        a.ints("pads", [padTop, padLeft, padBottom, padRight])
        a.int("groups", groups)
        a.int("weight", weight)
        if let bias { a.int("bias", bias) }
        a.activation(activation)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        let k = try a.ints("kernel", count: 2), s = try a.ints("stride", count: 2), d = try a.ints("dilation", count: 2)
        let p = try a.ints("pads", count: 4)
        var c = ConvAttributes(outChannels: try a.int("out_channels"), kernel: k[0], stride: s[0], dilation: d[0], padding: p[0],
                               groups: try a.int("groups", default: 1), weight: try a.int("weight"), bias: try a.optionalIndex("bias"))
        c.kernelWidth = k[1]
        c.strideX = s[1]
        c.dilationX = d[1]
        c.padLeft = p[1]
        c.padBottom = p[2]
        c.padRight = p[3]
        c.activation = try a.activation()
        return .conv2d(c)
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

extension ConvAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let g = geometry(context.x)
        let op = try makeOperator(g, weights: context.floats(weight), bias: bias.map { context.floats($0) },
                              algorithm: context.algorithm(g), threads: context.threads, node: context.node)
        return PreparedOp(workspaceFloats: op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: g.directFLOPs,
                          convolution: (op.geometry, op.algorithm)) { r in
            op.run(input: r.x, output: r.output, workspace: r.workspace)
        }
    }

    /// The fp32 operator for geometry `g` with these weights (training plans one per step, with its current weights).
    public func makeOperator(_ g: Conv2dGeometry, weights w: [Float], bias b: [Float]?, activation: FusedActivation? = nil,
                           algorithm: ConvAlgorithm, threads: Int, node: Node) throws(GraphError) -> Conv2dOperator {
        do {
            return try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                try withOptionalPointer(b) { bp throws(ShapeError) in
                    try Conv2dOperator(g, weights: wp.baseAddress!, bias: bp, activation: activation ?? self.activation,
                                       algorithm: algorithm, threads: threads)
                }
            }
        } catch { throw .shape(node: node.name, "\(error)") }
    }
}
