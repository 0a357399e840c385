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
    public var op: Op { .conv2d(self) }

    public func remappingParameters(_ map: (Int) -> Int) -> Op {
        var a = self
        a.weight = map(weight)
        a.bias = bias.map(map)
        return .conv2d(a)
    }

    public func fusing(_ f: FusedActivation) -> Op? {
        guard activation == .none else { return nil }
        var a = self
        a.activation = f
        return .conv2d(a)
    }
    public var parameterIndices: [Int] { bias.map { [weight, $0] } ?? [weight] }
    public var quantizationRole: QuantizationRole { .weighted(weight: weight, bias: bias, axis: 0, supported: groups == 1) }

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
        let op = try Conv2dOperator.make(g, weights: context.floats(weight), bias: bias.map { context.floats($0) }, activation: activation,
                                         algorithm: context.algorithm(g), threads: context.threads, node: context.node)
        return PreparedOp(workspaceFloats: op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: g.directFLOPs,
                          convolution: (op.geometry, op.algorithm)) { r in
            op.run(input: r.x, output: r.output, workspace: r.workspace)
        }
    }
}

extension ConvAttributes {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], w = context.values(weight), b = bias.map { context.values($0) }
        var out = context.zeros()
        let s = out.shape, cin = x.shape.channels, groupIn = cin / groups, groupOut = outChannels / groups
        for n in 0..<s.batch { for o in 0..<s.channels {
            let group = o / groupOut
            for oy in 0..<s.height { for ox in 0..<s.width {
                var acc = b?[o] ?? 0
                for ci in 0..<groupIn { for ky in 0..<kernelHeight { for kx in 0..<kernelWidth {
                    let iy = oy * strideY - padTop + ky * dilationY, ix = ox * strideX - padLeft + kx * dilationX
                    if iy < 0 || iy >= x.shape.height || ix < 0 || ix >= x.shape.width { continue }
                    acc += w[((o * groupIn + ci) * kernelHeight + ky) * kernelWidth + kx] * x.data[x.index(n, group * groupIn + ci, iy, ix)]
                } } }
                out.data[out.index(n, o, oy, ox)] = activation.apply(acc)
            } }
        } }
        return out
    }
}

extension ConvAttributes {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0]
        let g = geometry(tape.shapes[j])
        let op = try Conv2dOperator.make(g, weights: tape.parameter(weight), bias: bias.map { tape.parameter($0) }, activation: activation,
                                         algorithm: tape.algorithm(for: g), threads: tape.threads, node: node)
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op.run(input: xp.baseAddress!, output: $0.baseAddress!) } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        let dy = tape.activationBackward(activation, tape.values[i], dyIn)
        let j = node.inputs[0], xs = tape.shapes[j]
        let g = geometry(xs)
        try tape.convWeightGradient(g, input: tape.values[j], outputGradient: dy, weight: weight, bias: bias, node: node)
        // Nothing needs the gradient of the graph's input image (unless it is captured).
        if case .input = tape.graph.nodes[j].op, j != tape.capturing { return }
        // The stride-1 path writes every element of dX; the transposed convolution adds into it.
        let stride1 = g.strideY == 1 && g.strideX == 1
        var dx = stride1 ? Autograd.uninitialized(xs.elementCount) : [Float](repeating: 0, count: xs.elementCount)
        if stride1 {
            // Stride 1: dX is a convolution of dY with the flipped, transposed kernel, which runs on the
            // fast forward paths (igemm, Winograd) instead of the general transposed convolution.
            try tape.flippedConvolution(g, weights: tape.parameter(weight), dy, &dx, node)
        } else {
            // dX: the transposed convolution of dY with the same weights.
            let t = ConvTranspose2dGeometry(adjointOf: g)
            let plan = try F32ConvTranspose.Plan.make(t, weights: tape.parameter(weight), bias: nil, activation: .none, node: node)
            tape.runTransposed(plan, dy, &dx, inStride: s.elementsPerImage, outStride: xs.elementsPerImage, batch: s.batch)
        }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension ConvAttributes {
    /// Int8 with per-channel int8 weights and a quantized input (groups 1): the fastest of GEMM and exact
    /// Winograd, or the integer reference loops. Otherwise (float weights, depthwise) fp32.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i], entry = program.quantization[node.name]
        guard let w = program.int8Weights(weight, outputAxis: 0), groups == 1, let xin = program.q8Value(node.inputs[0]) else { return nil }
        let g = geometry(program.shapes[node.inputs[0]])
        let d = program.convData(w, bias, xin.parameters, entry, activation, channels: outChannels)
        let kernel: Int8Program.Kernel
        if program.reference {
            kernel = Int8Program.Kernel { r in
                var one = g
                one.batch = 1
                for n in 0..<r.shape.batch {
                    let input = Array(UnsafeBufferPointer(start: r.x.assumingMemoryBound(to: UInt8.self) + n * r.xs.elementsPerImage,
                                                          count: r.xs.elementsPerImage))
                    r.store(Q8Reference.conv2d(one, input: input, inputZeroPoint: d.inputZeroPoint, weights: d.weights, bias: d.bias,
                                               multipliers: d.multipliers, activation: d.activation, output: d.target), d.target, image: n)
                }
            }
            program.scratchBytes = max(program.scratchBytes, 64)
        } else {
            switch try Int8Program.fastestConv(g, d, node, threads: program.threads) {
            case .gemm(let plan):
                program.packedWeightBytes += plan.weights.packedBytes
                program.scratchBytes = max(program.scratchBytes, plan.scratchBytes)
                kernel = Int8Program.Kernel { r in r.runLayer(plan) }
            case .winograd(let plan):
                program.packedWeightBytes += plan.packedBytes
                program.scratchBytes = max(program.scratchBytes, plan.scratchBytes)
                kernel = Int8Program.Kernel { r in r.runLayer(plan) }
            }
        }
        program.flops += g.directFLOPs
        return program.addStep(kernel, [xin.value], i, program.shapes[i], entry.map { .q8($0) } ?? .float)
    }
}
