import Kernels
import Engine

extension Autograd {
    /// The backward pass of one node: given dY (NHWC), adds the operands' gradients into `grads` and the
    /// parameters' gradients into `gradients`.
    func backwardNode(_ i: Int, _ node: Node, _ dyIn: [Float], _ grads: inout [[Float]?], capturing: Int?) throws(GraphError) {
        let s = shapes[i]
        let y = values[i]
        if fusedActivationNodes.contains(i) {
            // Its BatchNorm operand applies it and takes it back in its own backward.
            Autograd.accumulate(&grads[node.inputs[0]], dyIn)
            return
        }
        switch node.op {
        case .input:
            return
        case .conv2d(let a):
            let dy = activationBackward(a.activation, y, dyIn)
            let j = node.inputs[0], xs = shapes[j]
            let g = a.geometry(xs)
            try convWeightGradient(g, input: values[j], outputGradient: dy, weight: a.weight, bias: a.bias, node: node)
            // Nothing needs the gradient of the graph's input image (unless it is captured).
            if case .input = graph.nodes[j].op, j != capturing { return }
            // The stride-1 path writes every element of dX; the transposed convolution adds into it.
            let stride1 = g.strideY == 1 && g.strideX == 1
            var dx = stride1 ? Autograd.uninitialized(xs.elementCount) : [Float](repeating: 0, count: xs.elementCount)
            if stride1 {
                // Stride 1: dX is a convolution of dY with the flipped, transposed kernel, which runs on the
                // fast forward paths (igemm, Winograd) instead of the general transposed convolution.
                try flippedConvolution(g, weights: parameter(a.weight), dy, &dx, node)
            } else {
                // dX: the transposed convolution of dY with the same weights.
                let t = ConvTranspose2dGeometry(adjointOf: g)
                let plan = try transposedPlan(t, weights: parameter(a.weight), bias: nil, .none, node)
                runTransposed(plan, dy, &dx, inStride: s.elementsPerImage, outStride: xs.elementsPerImage, batch: s.batch)
            }
            Autograd.accumulate(&grads[j], dx)
        case .convTranspose2d(let a):
            let dy = activationBackward(a.activation, y, dyIn)
            let j = node.inputs[0], xs = shapes[j]
            let tg = a.geometry(xs)
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
            try convWeightGradient(g, input: dy, outputGradient: values[j], weight: a.weight, bias: nil, node: node)
            if let b = a.bias {
                var db = [Float](repeating: 0, count: s.channels)
                dy.withUnsafeBufferPointer { dp in db.withUnsafeMutableBufferPointer {
                    F32ConvWeightGradient.biasGradient(dp.baseAddress!, pixels: s.batch * s.height * s.width, channels: s.channels, into: $0.baseAddress!) } }
                addGradient(b, db)
            }
            // dX is the convolution of dY with the same weights (IOHW read as OIHW).
            let w = parameter(a.weight)
            let op: Conv2dOperator
            do {
                op = try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                    try Conv2dOperator(g, weights: wp.baseAddress!, bias: nil, activation: .none,
                                       algorithm: algorithm(for: g), threads: threads)
                }
            } catch { throw .shape(node: node.name, "\(error)") }
            var dx = Autograd.uninitialized(xs.elementCount)
            dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { op.run(input: dp.baseAddress!, output: $0.baseAddress!) } }
            Autograd.accumulate(&grads[j], dx)
        case .maxPool2d(let a):
            let j = node.inputs[0], xs = shapes[j], g = a.geometry(xs)
            var dx = [Float](repeating: 0, count: xs.elementCount)
            let indices = maxPoolIndices[i]!
            dyIn.withUnsafeBufferPointer { dp in indices.withUnsafeBufferPointer { ip in dx.withUnsafeMutableBufferPointer { xp in
                // Images scatter into disjoint parts of dX, so they can run on different threads.
                let d = dp.baseAddress!, ix = ip.baseAddress!, dxb = xp.baseAddress!
                ParallelFor.run(count: s.batch, threads: threads) { images, _ in
                    for n in images {
                        F32LayerBackward.maxPool(g, outputGradient: d + n * s.elementsPerImage, indices: ix + n * s.elementsPerImage,
                                                 inputGradient: dxb + n * xs.elementsPerImage)
                    }
                }
            } } }
            Autograd.accumulate(&grads[j], dx)
        case .averagePool2d(let a):
            let j = node.inputs[0], xs = shapes[j], g = a.geometry(xs)
            var dx = [Float](repeating: 0, count: xs.elementCount)
            dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
                for n in 0..<s.batch {
                    F32LayerBackward.averagePool(g, outputGradient: dp.baseAddress! + n * s.elementsPerImage, inputGradient: xp.baseAddress! + n * xs.elementsPerImage)
                }
            } }
            Autograd.accumulate(&grads[j], dx)
        case .adaptiveAveragePool2d(let bins):
            let j = node.inputs[0], xs = shapes[j]
            var one = xs.image
            one.batch = 1
            var dx = [Float](repeating: 0, count: xs.elementCount)
            dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
                for n in 0..<s.batch {
                    F32LayerBackward.adaptiveAveragePool(one, outHeight: bins, outWidth: bins, outputGradient: dp.baseAddress! + n * s.elementsPerImage,
                                                         inputGradient: xp.baseAddress! + n * xs.elementsPerImage)
                }
            } }
            Autograd.accumulate(&grads[j], dx)
        case .upsample(let a):
            let j = node.inputs[0], xs = shapes[j]
            var one = xs.image
            one.batch = 1
            var dx = [Float](repeating: 0, count: xs.elementCount)
            dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
                for n in 0..<s.batch {
                    let src = dp.baseAddress! + n * s.elementsPerImage, dst = xp.baseAddress! + n * xs.elementsPerImage
                    switch a.mode {
                    case .nearest: F32LayerBackward.nearest(one, outHeight: s.height, outWidth: s.width, outputGradient: src, inputGradient: dst)
                    case .bilinear(let align):
                        F32LayerBackward.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: align, outputGradient: src, inputGradient: dst)
                    }
                }
            } }
            Autograd.accumulate(&grads[j], dx)
            // The size operand of a resize-to-like receives no gradient.
        case .concat:
            var offset = 0
            let pixels = s.batch * s.height * s.width, total = s.channels, threads = self.threads
            for j in node.inputs {
                let c = shapes[j].channels, o0 = offset
                var dx = Autograd.uninitialized(pixels * c)
                dyIn.withUnsafeBufferPointer { src in dx.withUnsafeMutableBufferPointer { dst in
                    let sp = src.baseAddress!, dp = dst.baseAddress!
                    ParallelFor.run(count: pixels, threads: threads) { range, _ in
                        for p in range { (dp + p * c).update(from: sp + p * total + o0, count: c) }
                    }
                } }
                Autograd.accumulate(&grads[j], dx)
                offset += c
            }
        case .add(let act):
            let dy = activationBackward(act, y, dyIn)
            Autograd.accumulate(&grads[node.inputs[0]], dy)
            Autograd.accumulate(&grads[node.inputs[1]], dy)
        case .mul:
            let a = node.inputs[0], b = node.inputs[1], gs = shapes[b]
            let x = values[a], gate = values[b]
            var dx = [Float](repeating: 0, count: s.elementCount)
            var dgate = [Float](repeating: 0, count: gs.elementCount)
            for k in 0..<dx.count {
                let gi = Autograd.gateIndex(k, s, gs)
                dx[k] = dyIn[k] * gate[gi]
                dgate[gi] += dyIn[k] * x[k]
            }
            Autograd.accumulate(&grads[a], dx)
            Autograd.accumulate(&grads[b], dgate)
        case .batchNorm(let a):
            let j = node.inputs[0], activation = batchNormActivation(i, a)
            let pixels = s.batch * s.height * s.width
            var dx = Autograd.uninitialized(s.elementCount)
            var dgamma = [Float](repeating: 0, count: s.channels), dbeta = [Float](repeating: 0, count: s.channels)
            let gamma = parameter(a.gamma)
            if training, let saved = batchNormSaved[i] {
                values[j].withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in dyIn.withUnsafeBufferPointer { dp in
                    dx.withUnsafeMutableBufferPointer {
                        batchNormBackward(xp.baseAddress!, output: yp.baseAddress!, outputGradient: dp.baseAddress!, activation: activation,
                                          pixels: pixels, channels: s.channels, gamma: gamma, saved: saved, inputGradient: $0.baseAddress!,
                                          gammaGradient: &dgamma, betaGradient: &dbeta)
                    }
                } } }
            } else {
                let dy = activationBackward(activation, y, dyIn)
                let mean = parameter(a.mean), variance = parameter(a.variance)
                for k in 0..<dx.count {
                    let c = k % s.channels
                    let inv = 1 / (variance[c] + a.epsilon).squareRoot()
                    dx[k] = dy[k] * gamma[c] * inv
                    dgamma[c] += dy[k] * (values[j][k] - mean[c]) * inv
                    dbeta[c] += dy[k]
                }
            }
            addGradient(a.gamma, dgamma)
            addGradient(a.beta, dbeta)
            Autograd.accumulate(&grads[j], dx)
        case .activation(let kind):
            var dx = [Float](repeating: 0, count: s.elementCount)
            switch kind {
            case .relu:
                y.withUnsafeBufferPointer { yp in dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
                    let yb = yp.baseAddress!, db = dp.baseAddress!, xb = xp.baseAddress!
                    ParallelFor.run(count: xp.count, threads: threads) { range, _ in
                        F32LayerBackward.activation(.relu, output: yb, outputGradient: db, inputGradient: xb, range: range)
                    }
                } } }
            case .leakyRelu(let slope): for k in 0..<dx.count { dx[k] = values[node.inputs[0]][k] > 0 ? dyIn[k] : dyIn[k] * slope }
            case .sigmoid: for k in 0..<dx.count { dx[k] = dyIn[k] * y[k] * (1 - y[k]) }
            }
            Autograd.accumulate(&grads[node.inputs[0]], dx)
        case .softmax:
            var dx = [Float](repeating: 0, count: s.elementCount)
            let c = s.channels
            for p in 0..<(s.elementCount / c) {
                var dot: Float = 0
                for ch in 0..<c { dot += dyIn[p * c + ch] * y[p * c + ch] }
                for ch in 0..<c { dx[p * c + ch] = y[p * c + ch] * (dyIn[p * c + ch] - dot) }
            }
            Autograd.accumulate(&grads[node.inputs[0]], dx)
        }
    }

    /// The input gradient of a stride-1 convolution `g` as the forward convolution of dY with weights
    /// `W'[i][o][ky][kx] = W[o][i][kh-1-ky][kw-1-kx]` and padding `dilation * (k - 1) - pad` on each side.
    func flippedConvolution(_ g: Conv2dGeometry, weights w: [Float], _ dy: [Float], _ dx: inout [Float], _ node: Node) throws(GraphError) {
        let kh = g.kernelHeight, kw = g.kernelWidth, cin = g.inChannels, cout = g.outChannels
        var flipped = Autograd.uninitialized(w.count)
        w.withUnsafeBufferPointer { wp in flipped.withUnsafeMutableBufferPointer { fp in
            let src = wp.baseAddress!, dst = fp.baseAddress!
            ParallelFor.run(count: cin, threads: w.count < 65_536 ? 1 : threads) { inputs, _ in
                for i in inputs { for o in 0..<cout { for ky in 0..<kh { for kx in 0..<kw {
                    dst[((i * cout + o) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] = src[((o * cin + i) * kh + ky) * kw + kx]
                } } } }
            }
        } }
        let back = Conv2dGeometry(batch: g.batch, inChannels: cout, inHeight: g.outHeight, inWidth: g.outWidth, outChannels: cin,
                                  kernelHeight: kh, kernelWidth: kw, strideY: 1, strideX: 1, dilationY: g.dilationY, dilationX: g.dilationX,
                                  padTop: g.dilationY * (kh - 1) - g.padTop, padLeft: g.dilationX * (kw - 1) - g.padLeft,
                                  padBottom: g.dilationY * (kh - 1) - g.padBottom, padRight: g.dilationX * (kw - 1) - g.padRight, groups: 1)
        if back.outHeight != g.inHeight || back.outWidth != g.inWidth || back.padTop < 0 || back.padLeft < 0 || back.padBottom < 0 || back.padRight < 0 {
            throw .shape(node: node.name, "no flipped-kernel input gradient for \(g)")
        }
        let op: Conv2dOperator
        do {
            op = try flipped.withUnsafeBufferPointer { wp throws(ShapeError) in
                try Conv2dOperator(back, weights: wp.baseAddress!, bias: nil, activation: .none,
                                   algorithm: algorithm(for: back), threads: threads)
            }
        } catch { throw .shape(node: node.name, "\(error)") }
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { op.run(input: dp.baseAddress!, output: $0.baseAddress!) } }
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
        if let bias {
            var db = [Float](repeating: 0, count: g.outChannels)
            dy.withUnsafeBufferPointer { dp in db.withUnsafeMutableBufferPointer {
                F32ConvWeightGradient.biasGradient(dp.baseAddress!, pixels: g.batch * g.outHeight * g.outWidth, channels: g.outChannels, into: $0.baseAddress!) } }
            addGradient(bias, db)
        }
    }

    /// dW of convolution `g` (OIHW).
    func weightGradient(_ g: Conv2dGeometry, input: [Float], outputGradient dy: [Float], node: Node) throws(GraphError) -> [Float] {
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels
        if taps > 1 && g.groups == 1 && cin * taps <= 2 * CompiledISA.tileWidth {
            // Few input channels (the first layer reads 1-3): the tile would pad each tap's channels to the
            // vector width, 8x the work for one channel. The taps become the channels of a 1x1 problem.
            let flat = Conv2dGeometry(batch: g.batch, inChannels: taps * cin, inHeight: g.outHeight, inWidth: g.outWidth,
                                      outChannels: g.outChannels, kernel: 1)
            let dwFlat = try weightGradient(flat, input: imageColumns(g, input), outputGradient: dy, node: node)
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
                    input.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in dw.withUnsafeMutableBufferPointer {
                        plan.runStreamed(input: xp.baseAddress!, outputGradient: dp.baseAddress!, weightGradient: $0.baseAddress!) {
                            ParallelFor.spread($0, threads: threads, $1)
                        }
                    } } }
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
    func weightGradient<Plan: F32ConvWeightGradientPlan>(_ plan: Plan, input: [Float], outputGradient dy: [Float]) -> [Float] {
        let g = plan.geometry
        // The panels are overwritten whole for every image; the accumulator starts at zero.
        let prepared = AlignedBuffer(count: plan.preparedInputFloats, zeroed: false), acc = AlignedBuffer(count: plan.accumulatorFloats)
        let preparedGradient = AlignedBuffer(count: plan.preparedGradientFloats, zeroed: false)
        let threads = self.threads
        input.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
            for n in 0..<g.batch {
                let image = xp.baseAddress! + n * g.inputShape.elementsPerImage
                let gradient = dp.baseAddress! + n * g.outputShape.elementsPerImage
                ParallelFor.run(count: plan.preparationParts, threads: threads) { parts, _ in
                    plan.prepare(image: image, outputGradient: gradient, input: prepared.pointer, gradient: preparedGradient.pointer, parts: parts)
                }
                ParallelFor.run(count: plan.workItems, threads: threads) { items, _ in
                    plan.accumulate(prepared: prepared.constPointer, outputGradient: preparedGradient.constPointer, into: acc.pointer, items: items)
                }
            }
        } }
        var dw = Autograd.uninitialized(g.weightCount)
        dw.withUnsafeMutableBufferPointer { plan.finish(acc.constPointer, weightGradient: $0.baseAddress!) }
        return dw
    }

    /// The input patches of convolution `g` as pixels of a 1x1 problem: `[image][outY][outX][tap][channel]`,
    /// zero where a tap falls in the padding.
    func imageColumns(_ g: Conv2dGeometry, _ input: [Float]) -> [Float] {
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels, rows = g.batch * g.outHeight
        var columns = Autograd.uninitialized(rows * g.outWidth * taps * cin)
        input.withUnsafeBufferPointer { xp in columns.withUnsafeMutableBufferPointer { cp in
            let x = xp.baseAddress!, out = cp.baseAddress!
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
        } }
        return columns
    }
}
