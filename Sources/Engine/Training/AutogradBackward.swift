import Kernels

extension Autograd {
    /// The backward pass of one node: given dY (NHWC), adds the operands' gradients into `grads` and the
    /// parameters' gradients into `gradients`.
    func backwardNode(_ i: Int, _ node: Node, _ dy: [Float], _ grads: inout [[Float]?]) throws(GraphError) {
        if fusedActivationNodes.contains(i) {
            // Its BatchNorm operand applies it and takes it back in its own backward.
            Autograd.accumulate(&grads[node.inputs[0]], dy)
            return
        }
        var visitor = BackwardVisitor(tape: self, node: i, outputGradient: dy)
        swap(&visitor.gradients, &grads)
        defer { swap(&visitor.gradients, &grads) }
        try node.op.visit(&visitor)
    }

    /// dX of convolution `g` (OIHW `weights`, groups 1) over its whole batch.
    func convolutionInputGradient(_ g: Conv2dGeometry, weights: [Float], _ dy: [Float], _ node: Node) throws(GraphError) -> [Float] {
        let op = try ConvInputGradient(g, weights: weights, threads: threads, algorithm: { self.algorithm(for: $0) }, node: node)
        var dx = Autograd.uninitialized(g.inputShape.elementCount)  // `run` writes every element
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { op.run(outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!) } }
        return dx
    }

    /// The gradient of a per-channel bias: dY (channels last) summed over its pixels.
    func biasGradient(_ dy: [Float], channels: Int) -> [Float] {
        var db = [Float](repeating: 0, count: channels)
        dy.withUnsafeBufferPointer { dp in db.withUnsafeMutableBufferPointer {
            F32ConvWeightGradient.biasGradient(dp.baseAddress!, pixels: dy.count / channels, channels: channels, into: $0.baseAddress!) } }
        return db
    }

    /// dY through the activation node `i` fused into its store, from its output, read only when there is an
    /// activation (a released output is not recomputed for nothing).
    func activationBackward(_ act: FusedActivation, ofNode i: Int, _ dy: [Float]) -> [Float] {
        act == .none ? dy : activationBackward(act, value(i), dy)
    }

    /// dY through a fused activation, from the node's output (ReLU and LeakyReLU keep the sign).
    func activationBackward(_ act: FusedActivation, _ y: [Float], _ dy: [Float]) -> [Float] {
        if act == .none { return dy }
        var dx = Autograd.uninitialized(dy.count)
        y.withUnsafeBufferPointer { yp in dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer {
            F32LayerBackward.activation(act, output: yp.baseAddress!, outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!, range: 0..<dy.count)
        } } }
        return dx
    }

    /// Adds the weight (and bias) gradient of convolution `g` to the parameters' gradients.
    func convWeightGradient(_ g: Conv2dGeometry, input: [Float], outputGradient dy: [Float], weight: Int, bias: Int?,
                            node: Node) throws(GraphError) {
        addGradient(weight, try weightGradient(g, input: input, outputGradient: dy, node: node))
        if let bias { addGradient(bias, biasGradient(dy, channels: g.outChannels)) }
    }

    /// dW of convolution `g` (OIHW).
    func weightGradient(_ g: Conv2dGeometry, input: [Float], outputGradient dy: [Float], node: Node) throws(GraphError) -> [Float] {
        try input.withUnsafeBufferPointer { xp throws(GraphError) in
            try dy.withUnsafeBufferPointer { dp throws(GraphError) in
                try weightGradient(g, input: xp.baseAddress!, outputGradient: dp.baseAddress!, node: node)
            }
        }
    }

    /// dW of convolution `g` (OIHW) from its whole input batch and output gradient (NHWC).
    func weightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                        node: Node) throws(GraphError) -> [Float] {
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels
        if taps > 1 && g.groups == 1 && cin * taps <= 2 * CompiledISA.tileWidth {
            // Few input channels (the first layer reads 1-3): the tile would pad each tap's channels to the
            // vector width, 8x the work for one channel. The taps become the channels of a 1x1 problem.
            let flat = Conv2dGeometry(batch: g.batch, inChannels: taps * cin, inHeight: g.outHeight, inWidth: g.outWidth,
                                      outChannels: g.outChannels, kernel: 1)
            let columns = imageColumns(g, input)
            let dwFlat = try columns.withUnsafeBufferPointer { cp throws(GraphError) in
                try weightGradient(flat, input: cp.baseAddress!, outputGradient: dy, node: node)
            }
            var dw = Autograd.uninitialized(g.weightCount)
            for o in 0..<g.outChannels { for i in 0..<cin { for t in 0..<taps { dw[(o * cin + i) * taps + t] = dwFlat[o * taps * cin + t * cin + i] } } }
            return dw
        }
        do {
            if case .winograd = algorithm(for: g) {
                switch F32ConvWeightGradient.WinogradPlan.strategy(for: g) {
                case .winogradStreamed:
                    let plan = try F32ConvWeightGradient.WinogradPlan(g), threads = self.threads
                    var dw = Autograd.uninitialized(g.weightCount)
                    dw.withUnsafeMutableBufferPointer {
                        plan.runStreamed(input: input, outputGradient: dy, weightGradient: $0.baseAddress!) {
                            ParallelFor.spread($0, threads: threads, $1)
                        }
                    }
                    return dw
                case .winogradPerImage:
                    return weightGradient(try F32ConvWeightGradient.WinogradPlan(g), input: input, outputGradient: dy)
                case .direct:
                    break
                }
            }
            return weightGradient(try F32ConvWeightGradient.Plan(g), input: input, outputGradient: dy)
        } catch { throw .shape(node: node.name, "\(error)") }
    }

    /// Runs `plan` over the batch: per image, one parallel phase prepares both panels and one adds the
    /// image's contribution.
    func weightGradient<Plan: F32ConvWeightGradientPlan>(_ plan: Plan, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>) -> [Float] {
        let g = plan.geometry
        // The panels are overwritten whole for every image; the accumulator starts at zero.
        let prepared = AlignedBuffer(count: plan.preparedInputFloats, zeroed: false), acc = AlignedBuffer(count: plan.accumulatorFloats)
        let preparedGradient = AlignedBuffer(count: plan.preparedGradientFloats, zeroed: false)
        let threads = self.threads
        for n in 0..<g.batch {
            let image = input + n * g.inputShape.elementsPerImage
            let gradient = dy + n * g.outputShape.elementsPerImage
            ParallelFor.run(count: plan.preparationParts, threads: threads) { parts, _ in
                plan.prepare(image: image, outputGradient: gradient, input: prepared.pointer, gradient: preparedGradient.pointer, parts: parts)
            }
            ParallelFor.run(count: plan.workItems, threads: threads) { items, _ in
                plan.accumulate(prepared: prepared.constPointer, outputGradient: preparedGradient.constPointer, into: acc.pointer, items: items)
            }
        }
        var dw = Autograd.uninitialized(g.weightCount)
        dw.withUnsafeMutableBufferPointer { plan.finish(acc.constPointer, weightGradient: $0.baseAddress!) }
        return dw
    }

    /// The input patches of convolution `g` as pixels of a 1x1 problem: `[image][outY][outX][tap][channel]`,
    /// zero where a tap falls in the padding.
    func imageColumns(_ g: Conv2dGeometry, _ input: UnsafePointer<Float>) -> [Float] {
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels, rows = g.batch * g.outHeight
        var columns = Autograd.uninitialized(rows * g.outWidth * taps * cin)
        columns.withUnsafeMutableBufferPointer { cp in
            let x = input, out = cp.baseAddress!
            ParallelFor.run(count: rows, threads: threads) { range, _ in
                for row in range {
                    let n = row / g.outHeight, oy = row % g.outHeight
                    for ox in 0..<g.outWidth {
                        var dst = out + (row * g.outWidth + ox) * taps * cin
                        for ky in 0..<g.kernelHeight {
                            let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                            for kx in 0..<g.kernelWidth {
                                let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                                if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                                    dst.update(from: x + ((n * g.inHeight + iy) * g.inWidth + ix) * cin, count: cin)
                                } else {
                                    dst.update(repeating: 0, count: cin)
                                }
                                dst += cin
                            }
                        }
                    }
                }
            }
        }
        return columns
    }
}

/// Runs one node's backward through its operator family, adding into `gradients` (moved in and out, not copied).
private struct BackwardVisitor: OperatorVisitor {
    let tape: Autograd
    let node: Int
    let outputGradient: [Float]
    var gradients: [[Float]?] = []
    mutating func visit<O: OperatorDefinition>(_ op: O) throws(GraphError) {
        try op.backward(tape, node: node, outputGradient: outputGradient, operandGradients: &gradients)
    }
}
