import Kernels

/// A 2D convolution operator: plans once for a geometry (packs weights, picks the algorithm,
/// sizes buffers), then runs batches on a fixed number of threads.
///
/// Input and output are NHWC batches (see `ImageShape`). Weights are OIHW, bias per output channel.
public final class Conv2dOperator {
    public let plan: F32Conv2dPlan
    public let threads: Int
    /// How the algorithm was chosen: "forced", "measured" (with the candidates' times) or "only".
    public let choice: String

    /// `algorithm: nil` measures every valid algorithm on this geometry and keeps the fastest
    /// (see `ConvAlgorithmChooser`); a non-nil algorithm is forced.
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                activation: FusedActivation, algorithm: ConvAlgorithm? = nil,
                threads: Int = ParallelFor.coreCount) throws(ShapeError) {
        self.threads = max(1, threads)
        if let algorithm {
            let threads = self.threads
            plan = try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: algorithm) {
                ParallelFor.spread($0, threads: threads, $1)
            }
            choice = "forced"
        } else {
            let (best, note) = try ConvAlgorithmChooser.shared.choose(g, weights: weights, bias: bias,
                                                                      activation: activation, threads: self.threads)
            plan = best
            choice = note
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
