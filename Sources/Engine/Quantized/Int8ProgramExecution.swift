import Kernels

/// One step of an int8 program at run time: raw operand and output storage (UInt8 or Float, as the values'
/// domains say), their shapes, the shared workspace and the thread count.
public struct Int8StepOperands {
    public let operands: [UnsafeMutableRawPointer]
    public let operandShapes: [TensorShape]
    public let output: UnsafeMutableRawPointer
    public let shape: TensorShape
    public let workspace: UnsafeMutableRawPointer
    public let threads: Int

    public var x: UnsafeMutableRawPointer { operands.isEmpty ? output : operands[0] }
    public var xs: TensorShape { operandShapes.isEmpty ? shape : operandShapes[0] }
    public var pixels: Int { shape.batch * shape.pixelsPerImage }

    /// Runs an int8 layer plan over every image of the batch, threads splitting its work items, each
    /// with its own scratch.
    func runLayer<P: Q8LayerPlan>(_ plan: P) {
        let per = plan.scratchBytes, scratch = workspace, threads = self.threads
        let inStride = xs.elementsPerImage, outStride = shape.elementsPerImage * plan.stage.elementBytes
        for n in 0..<shape.batch {
            let src = UnsafePointer(x.assumingMemoryBound(to: UInt8.self) + n * inStride), dst = output + n * outStride
            ParallelFor.run(count: plan.workItems, threads: threads) { items, thread in
                plan.run(input: src, output: dst, items: items, scratch: scratch + thread * per)
            }
        }
    }

    /// Writes one image's reference result into the output.
    func store(_ r: (q: [UInt8], f: [Float]), _ target: Q8OutputTarget, image n: Int) {
        let first = n * shape.elementsPerImage, count = shape.elementsPerImage
        switch target {
        case .quantized: (output.assumingMemoryBound(to: UInt8.self) + first).update(from: r.q, count: count)
        case .float: (output.assumingMemoryBound(to: Float.self) + first).update(from: r.f, count: count)
        }
    }
}

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
        var operands: [UnsafeMutableRawPointer] = [], shapes: [TensorShape] = []
        for v in step.operands {
            operands.append(raw(v))
            shapes.append(values[v].shape)
        }
        step.kernel.run(Int8StepOperands(operands: operands, operandShapes: shapes, output: raw(step.output),
                                         shape: values[step.output].shape, workspace: UnsafeMutableRawPointer(workspace.pointer),
                                         threads: threads))
    }

    // MARK: conversions between the domains

    static func quantize(_ p: Q8TensorParameters) -> Kernel {
        Kernel { r in
            let src = r.x.assumingMemoryBound(to: Float.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in Q8Elementwise.quantize(src, p, output: dst, range: range) }
        }
    }

    static func dequantize(_ p: Q8TensorParameters) -> Kernel {
        Kernel { r in
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: Float.self)
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in Q8Elementwise.dequantize(src, p, output: dst, range: range) }
        }
    }

    static func requantize(from: Q8TensorParameters, to: Q8TensorParameters) -> Kernel {
        Kernel { r in
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: r.shape.elementCount, threads: r.threads) { range, _ in
                Q8Elementwise.requantize(src, from: from, output: dst, to: to, range: range)
            }
        }
    }
}
