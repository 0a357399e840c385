import Kernels

/// A 2D convolution operator: plans once for a geometry and algorithm (packs weights, sizes buffers), then
/// runs batches on a fixed number of threads. The executor chooses the algorithm (`AlgorithmChoices`).
///
/// Input and output are NHWC batches (see `ImageShape`). Weights are OIHW, bias per output channel.
public final class Conv2dOperator {
    public let plan: F32Conv2dPlan
    public let threads: Int
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                activation: FusedActivation, algorithm: ConvAlgorithm,
                threads: Int = ParallelFor.coreCount) throws(ShapeError) {
        self.threads = max(1, threads)
        let threads = self.threads
        plan = try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: algorithm) {
            ParallelFor.spread($0, threads: threads, $1)
        }
    }

    /// Floats of workspace a run needs: the prepared (padded) image plus per-thread scratch.
    /// The executor gives every conv the same workspace, since layers run one after another.
    public var workspaceFloats: Int { plan.preparedInputFloats + plan.scratchFloats * threads }

    public var algorithm: ConvAlgorithm { plan.algorithm }
    public var geometry: Conv2dGeometry { plan.geometry }

    /// Runs the whole batch with a workspace of its own (allocated for this call).
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let workspace = AlignedBuffer(count: workspaceFloats)
        run(input: input, output: output, workspace: workspace.pointer)
    }

    /// Runs the whole batch. `input` holds `geometry.inputShape.elementCount` floats, `output` the output's,
    /// `workspace` at least `workspaceFloats` (contents need not be initialized).
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        let g = plan.geometry
        let inStride = g.inputShape.elementsPerImage, outStride = g.outputShape.elementsPerImage
        let scratchPerThread = plan.scratchFloats
        let plan = self.plan
        for n in stride(from: 0, to: g.batch, by: plan.imagesPerRun) {
            let image = input + n * inStride
            var source = image
            if plan.preparedInputFloats > 0 {
                let preparedBase = workspace
                ParallelFor.run(count: plan.preparedRows, threads: threads) { rows, _ in
                    plan.prepareInput(image, into: preparedBase, rows: rows)
                }
                source = UnsafePointer(workspace)
            }
            let out = output + n * outStride
            let scratchBase = workspace + plan.preparedInputFloats
            ParallelFor.run(count: plan.workItems, threads: threads) { items, thread in
                plan.run(input: source, output: out, items: items, scratch: scratchBase + thread * scratchPerThread)
            }
        }
    }
}

extension Conv2dOperator {
    /// Floats of workspace `runOnCallingThread` needs.
    public var serialWorkspaceFloats: Int { plan.preparedInputFloats + plan.scratchFloats }

    /// Runs the whole batch on the calling thread, with no hand-offs: what the threads run when each takes whole
    /// slices of a volume. Every work item is computed as `run` computes it, so the output has the same bits.
    public func runOnCallingThread(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        let g = plan.geometry
        let inStride = g.inputShape.elementsPerImage, outStride = g.outputShape.elementsPerImage
        for n in stride(from: 0, to: g.batch, by: plan.imagesPerRun) {
            let image = input + n * inStride
            var source = image
            if plan.preparedInputFloats > 0 {
                plan.prepareInput(image, into: workspace, rows: 0..<plan.preparedRows)
                source = UnsafePointer(workspace)
            }
            plan.run(input: source, output: output + n * outStride, items: 0..<plan.workItems, scratch: workspace + plan.preparedInputFloats)
        }
    }
}

extension Conv2dOperator {
    /// Whether `run(_:output:workspace:)` takes stacked channel blocks: the algorithm pads its input into the
    /// workspace anyway, so the blocks are stacked there in the same pass (`gemm1x1` reads its input in place).
    public var takesChannelBlocks: Bool { plan.preparedInputFloats > 0 && plan.geometry.batch == 1 }

    /// `run` of one image whose input channels are `blocks` (`takesChannelBlocks`): the same bits as stacking
    /// the blocks into an image and running that, without the stacked copy.
    public func run(_ blocks: ChannelBlocks, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        let plan = self.plan, scratchPerThread = plan.scratchFloats
        ParallelFor.run(count: plan.preparedRows, threads: threads) { rows, _ in plan.prepareInput(blocks, into: workspace, rows: rows) }
        let scratchBase = workspace + plan.preparedInputFloats
        ParallelFor.run(count: plan.workItems, threads: threads) { items, thread in
            plan.run(input: UnsafePointer(workspace), output: output, items: items, scratch: scratchBase + thread * scratchPerThread)
        }
    }

    /// `run(_:output:workspace:)` on the calling thread (workspace: `serialWorkspaceFloats`).
    public func runOnCallingThread(_ blocks: ChannelBlocks, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        plan.prepareInput(blocks, into: workspace, rows: 0..<plan.preparedRows)
        plan.run(input: UnsafePointer(workspace), output: output, items: 0..<plan.workItems, scratch: workspace + plan.preparedInputFloats)
    }
}

extension Conv2dOperator {
    /// The operator for weights and bias held in arrays (OIHW), naming `node` when the geometry is refused:
    /// what the executor, training's forward and its input gradients all build.
    public static func make(_ g: Conv2dGeometry, weights w: [Float], bias b: [Float]?, activation: FusedActivation,
                            algorithm: ConvAlgorithm, threads: Int, node: Node) throws(GraphError) -> Conv2dOperator {
        do {
            return try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                try withOptionalPointer(b) { bp throws(ShapeError) in
                    try Conv2dOperator(g, weights: wp.baseAddress!, bias: bp, activation: activation, algorithm: algorithm, threads: threads)
                }
            }
        } catch { throw .shape(node: node.name, "\(error)") }
    }
}

extension F32ConvTranspose.Plan {
    /// Runs `batch` images, `inStride` and `outStride` floats apart, each one's work items split over `threads`.
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, inStride: Int, outStride: Int, threads: Int) {
        for n in 0..<batch {
            let src = input + n * inStride, dst = output + n * outStride
            ParallelFor.run(count: workItems, threads: threads) { items, _ in run(input: src, output: dst, items: items) }
        }
    }
}

extension F32ConvTranspose.Plan {
    /// The transposed-convolution plan for weights and bias held in arrays (IOHW), naming `node` when refused.
    public static func make(_ g: ConvTranspose2dGeometry, weights w: [Float], bias b: [Float]?, activation: FusedActivation,
                            node: Node) throws(GraphError) -> F32ConvTranspose.Plan {
        do {
            return try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                try withOptionalPointer(b) { bp throws(ShapeError) in
                    try F32ConvTranspose.Plan(g, weights: wp.baseAddress!, bias: bp, activation: activation)
                }
            }
        } catch { throw .shape(node: node.name, "\(error)") }
    }
}
