import Kernels

/// Transposed convolution over 1 to 3 spatial axes (PyTorch `ConvTranspose1d/2d/3d`, groups 1).
/// Weight `[in][out][kd][kh][kw]` (IOHW in 2D), one kernel axis per spatial axis.
public struct ConvTransposeAttributes: OperatorDefinition {
    public var outChannels: Int
    /// Kernel, stride and (symmetric) padding per spatial axis; dilation 1.
    public var window: SpatialWindow
    /// Extra output rows added after each axis (PyTorch's `output_padding`).
    public var outputPadding: [Int]
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    /// The same kernel, stride and padding on each of `rank` axes.
    public init(outChannels: Int, kernel: Int, stride: Int, padding: Int = 0, outputPadding: Int = 0, rank: Int = 2,
                weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.init(outChannels: outChannels, window: SpatialWindow(rank: rank, kernel: kernel, stride: stride, padding: padding),
                  outputPadding: Array(repeating: outputPadding, count: rank), weight: weight, bias: bias, activation: activation)
    }

    public init(outChannels: Int, window: SpatialWindow, outputPadding: [Int], weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        self.window = window
        self.outputPadding = outputPadding
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    /// The 2D kernels' geometry for an input shape (its in-plane axes for a 3D window).
    public func geometry(_ input: TensorShape) -> ConvTranspose2dGeometry {
        let h = window.axis3(1), w = window.axis3(2), rank = window.rank
        var g = ConvTranspose2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height,
                                        inWidth: input.width, outChannels: outChannels, kernel: h.kernel, stride: h.stride, padding: h.padBegin)
        g.kernelWidth = w.kernel
        g.strideX = w.stride
        g.padLeft = w.padBegin
        g.padRight = w.padEnd
        g.padBottom = h.padEnd
        g.outputPaddingY = rank >= 2 ? outputPadding[rank - 2] : 0
        g.outputPaddingX = outputPadding[rank - 1]
        return g
    }

    public static let fileName = "conv_transpose2d"
    public var kind: String { "conv_transpose\(window.rank)d" }
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
    public var outputBias: Int? { activation == .none ? bias : nil }
    public var quantizationRole: QuantizationRole {
        .weighted(weight: weight, bias: bias, axis: 1,
                  supported: window.kernel == window.stride && window.padBegin.allSatisfy { $0 == 0 } && outputPadding.allSatisfy { $0 == 0 })
    }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("out_channels", outChannels)
        window.encodeSymmetric(into: &a)
        a.ints("output_padding", outputPadding)
        a.int("weight", weight)
        if let bias { a.int("bias", bias) }
        a.activation(activation)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        let window = try SpatialWindow.decodeSymmetric(a)
        return .convTranspose2d(ConvTransposeAttributes(outChannels: try a.int("out_channels"), window: window,
                                                        outputPadding: try a.ints("output_padding", count: window.rank),
                                                        weight: try a.int("weight"), bias: try a.optionalIndex("bias"), activation: try a.activation()))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0]
        if let problem = window.problem() { throw context.fail(problem) }
        if outputPadding.count != window.rank { throw context.fail("output padding has \(outputPadding.count) entries for a \(window.rank)-axis kernel") }
        if let error = geometry(x).validate() { throw context.fail("\(error)") }
        var out = try window.transposedOutputShape(x, outputPadding: outputPadding, context)
        try context.expect(parameter: weight, count: x.channels * outChannels * window.taps, "weight")
        if let bias { try context.expect(parameter: bias, count: outChannels, "bias") }
        out.channels = outChannels
        return out
    }

    public func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double {
        if window.rank < 3 { return geometry(operands[0]).directFLOPs / 2 }
        return Double(operands[0].elementCount) * Double(outChannels) * Double(window.taps)
    }
}

extension ConvTransposeAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        if context.x.depth != nil { return try planVolume(context) }
        let g = geometry(context.x)
        var single = g
        single.batch = 1
        if let phases = try TransposedConvPhases(single, weights: context.floats(weight), bias: bias.map { context.floats($0) },
                                                 activation: activation, algorithm: context.algorithm, threads: context.threads, node: context.node) {
            let xs = context.x, s = context.output
            return PreparedOp(workspaceFloats: phases.workspaceFloats, packedWeightBytes: phases.packedWeightBytes, flops: g.directFLOPs) { r in
                for n in 0..<r.shape.batch {
                    phases.run(input: r.x + n * xs.elementsPerImage, output: r.output + n * s.elementsPerImage, workspace: r.workspace, threads: r.threads)
                }
            }
        }
        let plan = try F32ConvTranspose.Plan.make(g, weights: context.floats(weight), bias: bias.map { context.floats($0) },
                                                  activation: activation, node: context.node)
        return PreparedOp(packedWeightBytes: plan.packedWeightBytes, flops: g.directFLOPs) { r in
            plan.run(input: r.x, output: r.output, batch: r.shape.batch, inStride: r.xs.elementsPerImage, outStride: r.shape.elementsPerImage, threads: r.threads)
        }
    }
}

extension ConvTransposeAttributes {
    /// A 3D window on a volume (`VolumeSlices`): every (input slice, depth tap) pair runs the tap's 2D
    /// transposed convolution and adds into the output slice it reaches; the bias and activation come last
    /// (fused instead where each output slice comes from one pair).
    func planVolume(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let xs = context.x, s = context.output, d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        var g = geometry(xs)
        g.batch = 1
        let weights = context.floats(weight), bias = self.bias.map { context.floats($0) }, activation = self.activation
        let count = s.height * s.width * s.channels
        // Each output slice reached by one (input slice, tap) pair at most (the 2x2x2 stride-2 up step) is written
        // by its tap's plan with the bias and activation fused: the same sums as adding into zeros and applying
        // them after, without the three passes over the output; a slice no pair reaches is act(bias).
        let writesOnce = g.isUpStep2x2 && d.stride >= d.kernel && d.dilation == 1
        var plans: [F32ConvTranspose.Plan] = []
        for kz in 0..<d.kernel {
            let w = VolumeSlices.tapWeights(weights, outer: xs.channels * outChannels, depth: d.kernel, planeTaps: g.kernelHeight * g.kernelWidth, tap: kz)
            plans.append(try F32ConvTranspose.Plan.make(g, weights: w, bias: writesOnce ? bias : nil, activation: writesOnce ? activation : .none,
                                                        node: context.node))
        }
        if writesOnce {
            return PreparedOp(packedWeightBytes: plans.reduce(0) { $0 + $1.packedWeightBytes }, flops: 2 * multiplyAccumulates([xs], output: s)) { r in
                for n in 0..<s.batch { for oz in 0..<outDepth {
                    let out = VolumeSlices.slice(r.output, s, image: n, depth: oz), t = oz + d.padBegin
                    let iz = t / d.stride, kz = t - iz * d.stride
                    if t >= 0 && kz < d.kernel && iz < inDepth {
                        plans[kz].run(input: VolumeSlices.slice(r.x, xs, image: n, depth: iz), output: out, batch: 1, inStride: 0, outStride: 0,
                                      threads: r.threads)
                    } else {
                        out.update(repeating: 0, count: count)
                        VolumeSlices.biasActivation(out, bias: bias, channels: s.channels, pixels: s.height * s.width, activation, threads: r.threads)
                    }
                } }
            }
        }
        return PreparedOp(workspaceFloats: VolumeSlices.sliceFloats(s), packedWeightBytes: plans.reduce(0) { $0 + $1.packedWeightBytes },
                          flops: 2 * multiplyAccumulates([xs], output: s)) { r in
            let temp = r.workspace
            for n in 0..<s.batch {
                let image = VolumeSlices.slice(r.output, s, image: n, depth: 0)
                image.update(repeating: 0, count: count * outDepth)
                for iz in 0..<inDepth { for kz in 0..<d.kernel {
                    let oz = iz * d.stride - d.padBegin + kz
                    if oz < 0 || oz >= outDepth { continue }
                    plans[kz].run(input: VolumeSlices.slice(r.x, xs, image: n, depth: iz), output: temp, batch: 1, inStride: 0, outStride: 0, threads: r.threads)
                    VolumeSlices.add(temp, into: VolumeSlices.slice(r.output, s, image: n, depth: oz), count: count, threads: r.threads)
                } }
                VolumeSlices.biasActivation(image, bias: bias, channels: s.channels, pixels: s.pixelsPerImage, activation, threads: r.threads)
            }
        }
    }
}

extension ConvTransposeAttributes {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], w = context.values(weight), b = bias.map { context.values($0) }
        var out = context.zeros()
        let s = out.shape, (ad, ah, aw) = (window.axis3(0), window.axis3(1), window.axis3(2)), taps = window.taps
        let od = s.depth ?? 1
        for n in 0..<s.batch { for o in 0..<s.channels { for p in 0..<s.pixelsPerImage { out.data[out.index(n, o, pixel: p)] = b?[o] ?? 0 } } }
        for n in 0..<s.batch { for i in 0..<x.shape.channels { for iz in 0..<(x.shape.depth ?? 1) { for iy in 0..<x.shape.height { for ix in 0..<x.shape.width {
            let v = x.data[x.index(n, i, iz, iy, ix)]
            for o in 0..<s.channels { for kz in 0..<ad.kernel { for ky in 0..<ah.kernel { for kx in 0..<aw.kernel {
                let oz = iz * ad.stride - ad.padBegin + kz, oy = iy * ah.stride - ah.padBegin + ky, ox = ix * aw.stride - aw.padBegin + kx
                if oz < 0 || oz >= od || oy < 0 || oy >= s.height || ox < 0 || ox >= s.width { continue }
                out.data[out.index(n, o, oz, oy, ox)] += v * w[(i * s.channels + o) * taps + (kz * ah.kernel + ky) * aw.kernel + kx]
            } } } }
        } } } } }
        for j in 0..<out.data.count { out.data[j] = activation.apply(out.data[j]) }
        return out
    }
}

extension ConvTransposeAttributes {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        let (tg, stacking) = trainingGeometry(xs, s)
        guard let stacking else {
            let plan = try F32ConvTranspose.Plan.make(tg, weights: tape.parameter(weight), bias: bias.map { tape.parameter($0) },
                                                      activation: activation, node: node)
            tape.runTransposed(plan, tape.values[j], &out, inStride: xs.elementsPerImage, outStride: s.elementsPerImage, batch: s.batch)
            return
        }
        // A volume: one 2D transposed convolution of every input slice into `kd` output blocks, each added into
        // the output slice its depth tap reaches; then the bias and the activation.
        let plan = try F32ConvTranspose.Plan.make(tg, weights: stackedWeights(tape, stacking), bias: nil, activation: .none, node: node)
        var stacked = Autograd.uninitialized(tg.outputShape.elementCount)
        tape.runTransposed(plan, tape.values[j], &stacked, inStride: tg.inputShape.elementsPerImage,
                           outStride: tg.outputShape.elementsPerImage, batch: tg.batch)
        out = stacking.unstackAdd(stacked, threads: tape.threads)
        out.withUnsafeMutableBufferPointer {
            VolumeSlices.biasActivation($0.baseAddress!, bias: bias.map { tape.parameter($0) }, channels: outChannels, pixels: s.elementCount / outChannels,
                                        activation, threads: tape.threads)
        }
    }

    public var backwardReadsOutput: Bool { activation != .none }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], s = tape.shapes[i], j = node.inputs[0], xs = tape.shapes[j]
        let dy = tape.activationBackward(activation, ofNode: i, dyIn)
        if let bias { tape.addGradient(bias, tape.biasGradient(dy, channels: outChannels)) }
        let (tg, stacking) = trainingGeometry(xs, s)
        // The transposed conv is the adjoint of the conv from its output space to its input space (a volume's
        // output slices stacked by depth tap, `DepthStacking`).
        let g = Conv2dGeometry(batch: tg.batch, inChannels: tg.outChannels, inHeight: tg.outHeight, inWidth: tg.outWidth,
                               outChannels: tg.inChannels, kernelHeight: tg.kernelHeight, kernelWidth: tg.kernelWidth,
                               strideY: tg.strideY, strideX: tg.strideX, dilationY: tg.dilationY, dilationX: tg.dilationX,
                               padTop: tg.padTop, padLeft: tg.padLeft,
                               padBottom: tg.padBottom + tg.outputPaddingY, padRight: tg.padRight + tg.outputPaddingX, groups: 1)
        if g.outHeight != xs.height || g.outWidth != xs.width {
            throw .shape(node: node.name, "transposed-conv backward geometry mismatch \(g)")
        }
        let dys = stacking.map { $0.stack(dy, threads: tape.threads) } ?? dy
        // dW (IOHW) is the conv weight gradient with input dY and output gradient X.
        let dw = try tape.weightGradient(g, input: dys, outputGradient: tape.values[j], node: node)
        if let stacking, stacking.taps > 1 {
            tape.addGradient(weight, DepthStacking.unstackedWeights(dw, outer: xs.channels, inner: outChannels, depth: stacking.taps,
                                                                    planeTaps: tg.kernelHeight * tg.kernelWidth))
        } else {
            tape.addGradient(weight, dw)
        }
        // dX is the convolution of dY with the same weights (IOHW read as OIHW).
        let op = try Conv2dOperator.make(g, weights: stackedWeights(tape, stacking), bias: nil, activation: .none,
                                         algorithm: tape.algorithm(for: g), threads: tape.threads, node: node)
        var dx = Autograd.uninitialized(xs.elementCount)
        dys.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { op.run(input: dp.baseAddress!, output: $0.baseAddress!) } }
        Autograd.accumulate(&grads[j], dx)
    }

    /// The 2D transposed convolution training runs: the whole op for an image; for a volume, one over the
    /// `batch * inDepth` input slices with `kd` times the output channels, one block per depth tap, whose
    /// blocks `DepthStacking` adds into the output slices they reach.
    func trainingGeometry(_ xs: TensorShape, _ s: TensorShape) -> (ConvTranspose2dGeometry, DepthStacking?) {
        var tg = geometry(xs)
        guard let inDepth = xs.depth else { return (tg, nil) }
        let d = window.axis3(0)
        let stacking = DepthStacking(batch: xs.batch, longDepth: s.depth ?? 1, shortDepth: inDepth, height: s.height, width: s.width,
                                     channels: outChannels, axis: SpatialWindow.Axis(kernel: d.kernel, stride: d.stride, dilation: 1,
                                                                                     padBegin: d.padBegin, padEnd: d.padEnd))
        tg.batch = stacking.images
        tg.outChannels = stacking.taps * outChannels
        return (tg, stacking)
    }

    /// The weights of the 2D transposed convolution `trainingGeometry` gives (IOHW, the depth taps as output channels).
    func stackedWeights(_ tape: Autograd, _ stacking: DepthStacking?) -> [Float] {
        let w = tape.parameter(weight)
        guard let stacking, stacking.taps > 1 else { return w }
        return DepthStacking.stackedWeights(w, outer: w.count / (outChannels * window.taps), inner: outChannels, depth: stacking.taps,
                                            planeTaps: window.taps / stacking.taps)
    }
}

extension ConvTransposeAttributes {
    /// Int8 with per-channel int8 weights and a quantized input when the kernel supports the geometry; else fp32.
    /// A volume runs when its depth kernel equals its stride, without padding (`Int8Volumes`): one 2D transposed
    /// convolution with a block of outputs per depth tap, each block then moved to its output slice.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i], entry = program.quantization[node.name], xs = program.shapes[node.inputs[0]], s = program.shapes[i]
        var g = geometry(xs)
        let d3 = window.axis3(0)
        var stacking: DepthStacking? = nil
        if let inDepth = xs.depth {
            guard d3.kernel == d3.stride && d3.padBegin == 0 && d3.padEnd == 0 && outputPadding[0] == 0 else { return nil }
            stacking = DepthStacking(batch: xs.batch, longDepth: s.depth ?? 1, shortDepth: inDepth, height: s.height, width: s.width,
                                     channels: outChannels, axis: d3)
            g.batch = xs.batch * inDepth
            g.outChannels = d3.kernel * outChannels
        }
        guard var w = program.int8Weights(weight, outputAxis: 1), Q8ConvTransposePlan.supports(g),
              let xin = program.q8Value(node.inputs[0]) else { return nil }
        var d = program.convData(w, bias, xin.parameters, entry, activation, channels: outChannels)
        let kd = d3.kernel
        if stacking != nil && kd > 1 {
            w.values = DepthStacking.stackedWeights(w.values, outer: xs.channels, inner: outChannels, depth: kd, planeTaps: window.taps / kd)
            d.weights = w.values
            d.multipliers = Array((0..<kd).map { _ in d.multipliers }.joined())
            d.bias = d.bias.map { b in Array((0..<kd).map { _ in b }.joined()) }
        }
        let images = stacking.map { _ in (input: TensorShape(batch: g.batch, channels: g.inChannels, height: g.inHeight, width: g.inWidth),
                                          output: TensorShape(batch: g.batch, channels: g.outChannels, height: g.outHeight, width: g.outWidth)) }
        let kernel: Int8Program.Kernel
        if program.reference {
            var one = g
            one.batch = 1
            kernel = Int8Program.Kernel { step in
                let r = images.map { step.viewed(input: $0.input, output: $0.output) } ?? step
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
            kernel = Int8Program.Kernel { step in (images.map { step.viewed(input: $0.input, output: $0.output) } ?? step).runLayer(plan) }
        }
        program.flops += g.directFLOPs
        let domain: Int8Program.Domain = entry.map { .q8($0) } ?? .float
        guard let stacking, let images else { return program.addStep(kernel, [xin.value], i, s, domain) }
        let blocks = program.addStep(kernel, [xin.value], i, images.output, domain)
        return program.depthScatterStep(blocks, stacking, output: s, bytes: entry == nil ? 4 : 1, domain: domain, node: i)
    }
}
