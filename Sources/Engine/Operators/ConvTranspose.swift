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
    public var op: Op { .convTranspose2d(self) }

    public func remappingParameters(_ map: (Int) -> Int) -> Op {
        var a = self
        a.weight = map(weight)
        a.bias = bias.map(map)
        return .convTranspose2d(a)
    }

    public func fusing(_ f: FusedActivation) -> Op? {
        guard activation == .none else { return nil }
        var a = self
        a.activation = f
        return .convTranspose2d(a)
    }
    public var parameterIndices: [Int] { bias.map { [weight, $0] } ?? [weight] }
    public var quantizationRole: QuantizationRole {
        .weighted(weight: weight, bias: bias, axis: 1, supported: kernel == stride && padding == 0 && outputPadding == 0)
    }

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
        let plan = try F32ConvTranspose.Plan.make(g, weights: context.floats(weight), bias: bias.map { context.floats($0) },
                                                  activation: activation, node: context.node)
        return PreparedOp(packedWeightBytes: plan.packedWeightBytes, flops: g.directFLOPs) { r in
            for n in 0..<r.shape.batch {
                let src = UnsafePointer(r.x + n * r.xs.elementsPerImage), dst = r.output + n * r.shape.elementsPerImage
                ParallelFor.run(count: plan.workItems, threads: r.threads) { items, _ in
                    plan.run(input: src, output: dst, items: items)
                }
            }
        }
    }
}

extension ConvTransposeAttributes {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], w = context.values(weight), b = bias.map { context.values($0) }
        var out = context.zeros()
        let s = out.shape, k = kernel
        for n in 0..<s.batch { for o in 0..<s.channels { for y in 0..<s.height { for xx in 0..<s.width {
            out.data[out.index(n, o, y, xx)] = b?[o] ?? 0
        } } } }
        for n in 0..<s.batch { for i in 0..<x.shape.channels { for iy in 0..<x.shape.height { for ix in 0..<x.shape.width {
            let v = x.data[x.index(n, i, iy, ix)]
            for o in 0..<s.channels { for ky in 0..<k { for kx in 0..<k {
                let oy = iy * stride - padding + ky, ox = ix * stride - padding + kx
                if oy < 0 || oy >= s.height || ox < 0 || ox >= s.width { continue }
                out.data[out.index(n, o, oy, ox)] += v * w[((i * s.channels + o) * k + ky) * k + kx]
            } } }
        } } } }
        for j in 0..<out.data.count { out.data[j] = activation.apply(out.data[j]) }
        return out
    }
}

extension ConvTransposeAttributes {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        let plan = try F32ConvTranspose.Plan.make(geometry(xs), weights: tape.parameter(weight), bias: bias.map { tape.parameter($0) },
                                                  activation: activation, node: node)
        tape.runTransposed(plan, tape.values[j], &out, inStride: xs.elementsPerImage, outStride: s.elementsPerImage, batch: s.batch)
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i]
        let dy = tape.activationBackward(activation, tape.values[i], dyIn)
        let j = node.inputs[0], xs = tape.shapes[j]
        let tg = geometry(xs)
        // The transposed conv is the adjoint of the conv from its output space to its input space.
        let g = Conv2dGeometry(batch: s.batch, inChannels: s.channels, inHeight: s.height, inWidth: s.width,
                               outChannels: xs.channels, kernelHeight: tg.kernelHeight, kernelWidth: tg.kernelWidth,
                               strideY: tg.strideY, strideX: tg.strideX, dilationY: tg.dilationY, dilationX: tg.dilationX,
                               padTop: tg.padTop, padLeft: tg.padLeft,
                               padBottom: tg.padBottom + tg.outputPaddingY, padRight: tg.padRight + tg.outputPaddingX, groups: 1)
        if g.outHeight != xs.height || g.outWidth != xs.width {
            throw .shape(node: node.name, "transposed-conv backward geometry mismatch \(g)")
        }
        // dW (IOHW) is the conv weight gradient with input dY and output gradient X.
        try tape.convWeightGradient(g, input: dy, outputGradient: tape.values[j], weight: weight, bias: nil, node: node)
        if let bias {
            var db = [Float](repeating: 0, count: s.channels)
            dy.withUnsafeBufferPointer { dp in db.withUnsafeMutableBufferPointer {
                F32ConvWeightGradient.biasGradient(dp.baseAddress!, pixels: s.batch * s.height * s.width, channels: s.channels, into: $0.baseAddress!) } }
            tape.addGradient(bias, db)
        }
        // dX is the convolution of dY with the same weights (IOHW read as OIHW).
        let op = try Conv2dOperator.make(g, weights: tape.parameter(weight), bias: nil, activation: .none,
                                         algorithm: tape.algorithm(for: g), threads: tape.threads, node: node)
        var dx = Autograd.uninitialized(xs.elementCount)
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { op.run(input: dp.baseAddress!, output: $0.baseAddress!) } }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension ConvTransposeAttributes {
    /// Int8 with per-channel int8 weights and a quantized input when the kernel supports the geometry; else fp32.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i], entry = program.quantization[node.name]
        let g = geometry(program.shapes[node.inputs[0]])
        guard let w = program.int8Weights(weight, outputAxis: 1), Q8ConvTransposePlan.supports(g),
              let xin = program.q8Value(node.inputs[0]) else { return nil }
        let d = program.convData(w, bias, xin.parameters, entry, activation, channels: outChannels)
        let kernel: Int8Program.Kernel
        if program.reference {
            kernel = Int8Program.Kernel { r in
                var one = g
                one.batch = 1
                for n in 0..<r.shape.batch {
                    let input = Array(UnsafeBufferPointer(start: r.x.assumingMemoryBound(to: UInt8.self) + n * r.xs.elementsPerImage,
                                                          count: r.xs.elementsPerImage))
                    r.store(Q8Reference.convTranspose2d(one, input: input, inputZeroPoint: d.inputZeroPoint, weights: d.weights,
                                                        bias: d.bias, multipliers: d.multipliers, activation: d.activation, output: d.target),
                            d.target, image: n)
                }
            }
        } else {
            let plan = try Int8Program.convTransposePlan(g, d, node)
            plan.splitColumns(forThreads: program.threads)
            program.packedWeightBytes += plan.weights.packedBytes
            program.scratchBytes = max(program.scratchBytes, plan.scratchBytes)
            kernel = Int8Program.Kernel { r in r.runLayer(plan) }
        }
        program.flops += g.directFLOPs
        return program.addStep(kernel, [xin.value], i, program.shapes[i], entry.map { .q8($0) } ?? .float)
    }
}
