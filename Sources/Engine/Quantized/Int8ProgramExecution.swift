import Kernels

extension Int8Program {
    /// Runs every step (inputs already written as Float into their values).
    func execute() {
        for s in 0..<steps.count { run(steps[s]) }
    }

    /// Runs the steps and returns the seconds spent per graph node (conversions count for their consumer).
    func executeTimed(nodeCount: Int) -> [Double] {
        var times = [Double](repeating: 0, count: nodeCount)
        for s in 0..<steps.count {
            let t0 = MonotonicClock.now()
            run(steps[s])
            times[steps[s].node] += MonotonicClock.now() - t0
        }
        return times
    }

    private func run(_ step: Step) {
        let out = raw(step.output)
        let shape = values[step.output].shape
        let count = shape.elementCount
        let threads = self.threads
        let x = step.operands.isEmpty ? out : raw(step.operands[0])
        let xs = step.operands.isEmpty ? shape : values[step.operands[0]].shape
        switch step.kernel {
        case .quantize(let p):
            let src = x.assumingMemoryBound(to: Float.self), dst = out.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: count, threads: threads) { range, _ in Q8Elementwise.quantize(src, p, output: dst, range: range) }
        case .dequantize(let p):
            let src = x.assumingMemoryBound(to: UInt8.self), dst = out.assumingMemoryBound(to: Float.self)
            ParallelFor.run(count: count, threads: threads) { range, _ in Q8Elementwise.dequantize(src, p, output: dst, range: range) }
        case .requantize(let from, let to):
            let src = x.assumingMemoryBound(to: UInt8.self), dst = out.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: count, threads: threads) { range, _ in
                Q8Elementwise.requantize(src, from: from, output: dst, to: to, range: range)
            }
        case .conv(let plan):
            runLayer(plan, x, xs, out, shape)
        case .winograd(let plan):
            runLayer(plan, x, xs, out, shape)
        case .convTranspose(let plan):
            runLayer(plan, x, xs, out, shape)
        case .referenceConv(let g0, let d):
            var g = g0
            g.batch = 1
            for n in 0..<shape.batch {
                let input = Array(UnsafeBufferPointer(start: x.assumingMemoryBound(to: UInt8.self) + n * xs.elementsPerImage,
                                                      count: xs.elementsPerImage))
                let r = Q8Reference.conv2d(g, input: input, inputZeroPoint: d.inputZeroPoint, weights: d.weights, bias: d.bias,
                                           multipliers: d.multipliers, activation: d.activation, output: d.target)
                store(r, d.target, out, n * shape.elementsPerImage, shape.elementsPerImage)
            }
        case .referenceConvTranspose(let g0, let d):
            var g = g0
            g.batch = 1
            for n in 0..<shape.batch {
                let input = Array(UnsafeBufferPointer(start: x.assumingMemoryBound(to: UInt8.self) + n * xs.elementsPerImage,
                                                      count: xs.elementsPerImage))
                let r = Q8Reference.convTranspose2d(g, input: input, inputZeroPoint: d.inputZeroPoint, weights: d.weights,
                                                    bias: d.bias, multipliers: d.multipliers, activation: d.activation, output: d.target)
                store(r, d.target, out, n * shape.elementsPerImage, shape.elementsPerImage)
            }
        case .maxPool(var g, let reference):
            g.batch = 1
            let src = x.assumingMemoryBound(to: UInt8.self), dst = out.assumingMemoryBound(to: UInt8.self)
            if reference {
                for n in 0..<shape.batch {
                    let r = Q8Reference.maxPool(g, input: Array(UnsafeBufferPointer(start: src + n * xs.elementsPerImage, count: xs.elementsPerImage)))
                    (dst + n * shape.elementsPerImage).update(from: r, count: r.count)
                }
            } else {
                eachImageRows(xs, shape, src, dst, threads) { s, d, rows in Q8Resampling.maxPool(g, input: s, output: d, rows: rows) }
            }
        case .upsample(let mode):
            var one = xs.image
            one.batch = 1
            let src = x.assumingMemoryBound(to: UInt8.self), dst = out.assumingMemoryBound(to: UInt8.self)
            eachImageRows(xs, shape, src, dst, threads) { s, d, rows in
                switch mode {
                case .nearest:
                    Q8Resampling.nearest(one, outHeight: shape.height, outWidth: shape.width, input: s, output: d, rows: rows)
                case .bilinear(let alignCorners):
                    Q8Resampling.bilinear(one, outHeight: shape.height, outWidth: shape.width, alignCorners: alignCorners,
                                          input: s, output: d, rows: rows)
                }
            }
        case .concat(let inputs, let output):
            var parts: [(UnsafePointer<UInt8>, Int, Q8TensorParameters)] = []
            for (k, v) in step.operands.enumerated() {
                parts.append((UnsafePointer(raw(v).assumingMemoryBound(to: UInt8.self)), values[v].shape.channels, inputs[k]))
            }
            let dst = out.assumingMemoryBound(to: UInt8.self)
            let pixels = shape.batch * shape.height * shape.width
            ParallelFor.run(count: pixels, threads: threads) { range, _ in Q8Elementwise.concat(parts, output: dst, output, pixels: range) }
        case .add(let pa, let pb, let po, let activation):
            let a = UnsafePointer(x.assumingMemoryBound(to: UInt8.self))
            let b = UnsafePointer(raw(step.operands[1]).assumingMemoryBound(to: UInt8.self))
            let dst = out.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: count, threads: threads) { range, _ in
                Q8Elementwise.add(a, pa, b, pb, output: dst, po, activation: activation, range: range)
            }
        case .float(let op):
            var pointers: [UnsafeMutablePointer<Float>] = []
            var shapes: [TensorShape] = []
            for v in step.operands {
                pointers.append(floatPointer(v))
                shapes.append(values[v].shape)
            }
            op.run(FloatOperands(inputs: pointers, inputShapes: shapes, output: floatPointer(step.output), shape: shape,
                                 workspace: workspace.pointer, threads: threads))
        }
    }

    /// Runs an int8 layer plan over every image of the batch, threads splitting its work items, each
    /// with its own scratch.
    private func runLayer<P: Q8LayerPlan>(_ plan: P, _ x: UnsafeMutableRawPointer, _ xs: TensorShape,
                                          _ out: UnsafeMutableRawPointer, _ shape: TensorShape) {
        let scratch = UnsafeMutableRawPointer(workspace.pointer), per = plan.scratchBytes
        let inStride = xs.elementsPerImage, outStride = shape.elementsPerImage * plan.stage.elementBytes
        let threads = self.threads
        for n in 0..<shape.batch {
            let src = UnsafePointer(x.assumingMemoryBound(to: UInt8.self) + n * inStride), dst = out + n * outStride
            ParallelFor.run(count: plan.workItems, threads: threads) { items, thread in
                plan.run(input: src, output: dst, items: items, scratch: scratch + thread * per)
            }
        }
    }

    private func store(_ r: (q: [UInt8], f: [Float]), _ target: Q8OutputTarget, _ out: UnsafeMutableRawPointer, _ first: Int, _ count: Int) {
        switch target {
        case .quantized: (out.assumingMemoryBound(to: UInt8.self) + first).update(from: r.q, count: count)
        case .float: (out.assumingMemoryBound(to: Float.self) + first).update(from: r.f, count: count)
        }
    }
}
