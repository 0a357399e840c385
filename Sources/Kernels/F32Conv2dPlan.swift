/// The convolution algorithms segrun implements. Every one can be forced, so tests and
/// benchmarks cover each; `Engine` picks among the valid ones by measuring them.
public enum ConvAlgorithm: Hashable, Sendable, CustomStringConvertible {
    /// Implicit GEMM on the padded NHWC image; any kernel, stride, dilation (groups 1).
    case igemm
    /// 1x1 kernel without padding as a packed GEMM on the unpadded image.
    case gemm1x1
    /// groups == channels.
    case depthwise
    /// 3x3, stride 1, dilation 1, groups 1: Winograd F(m x m, 3 x 3) with m = 2, 4 or 6.
    case winograd(WinogradVariant)
    #if !SEGRUN_EDGE
    /// 3x3, stride 1, dilation 1, groups 1, at most 4 input channels (first layers): F(4x4,3x3) with the output
    /// channels in the vector lanes (`F32ConvWinogradNarrow`). Not in segrun-edge, which has no room for it
    /// under 1.5 MB (every `#if !SEGRUN_EDGE` in this file is this algorithm's).
    case winogradNarrow
    #endif

    public var description: String {
        switch self {
        case .igemm: return "igemm"
        case .gemm1x1: return "gemm1x1"
        case .depthwise: return "depthwise"
        case .winograd(let v): return v.name
        #if !SEGRUN_EDGE
        case .winogradNarrow: return "winograd-f4-narrow"
        #endif
        }
    }

    /// The algorithms that can compute `g`.
    public static func candidates(for g: Conv2dGeometry) -> [ConvAlgorithm] {
        if g.isDepthwise { return [.depthwise] }
        var list: [ConvAlgorithm] = [.igemm]
        if g.inChannels == 1 && g.outChannels == 1 { list.append(.depthwise) }
        if F32Conv1x1Gemm.supports(g) { list.append(.gemm1x1) }
        if F32ConvWinograd.supports(g) {
            for v in WinogradVariant.all { list.append(.winograd(v)) }
        }
        #if !SEGRUN_EDGE
        if F32ConvWinogradNarrow.supports(g) { list.append(.winogradNarrow) }
        #endif
        return list
    }

    /// Parses the names that `description` prints.
    public init?(name: String) {
        switch name {
        case "igemm", "direct": self = .igemm
        case "gemm1x1", "1x1": self = .gemm1x1
        case "depthwise": self = .depthwise
        #if !SEGRUN_EDGE
        case "winograd-f4-narrow": self = .winogradNarrow
        #endif
        default:
            guard let v = WinogradVariant.all.first(where: { $0.name == name }) else { return nil }
            self = .winograd(v)
        }
    }
}

/// A convolution planned for one geometry and algorithm: weights packed, scratch sizes known.
/// Running it is single-threaded over a range of work items and never allocates;
/// `Engine` spreads the work items over threads.
///
/// Per image, a run is two phases: `prepareInput` (zero padding, if the algorithm reads a padded
/// image), then `run` over disjoint ranges of `workItems`, each with its own `scratchFloats` of scratch.
public struct F32Conv2dPlan {
    public let geometry: Conv2dGeometry
    public let algorithm: ConvAlgorithm
    public let activation: FusedActivation
    let packed: F32PackedConvWeights?
    let depthwise: F32ConvDepthwise.PackedWeights?
    let winograd: F32ConvWinograd.Plan?
    #if !SEGRUN_EDGE
    let narrow: F32ConvWinogradNarrow.Plan?
    #endif

    /// `weights` are OIHW (`geometry.weightCount` floats), `bias` has `outChannels` values or is nil.
    /// `spread` may run the Winograd weight transform's independent parts on several threads.
    @export(interface)
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                activation: FusedActivation, algorithm: ConvAlgorithm, spread: WorkSpreader = runOnCallingThread) throws(ShapeError) {
        if let error = g.validate() { throw error }
        var valid = false
        for candidate in ConvAlgorithm.candidates(for: g) where candidate == algorithm { valid = true }
        if !valid { throw .mismatch("algorithm \(algorithm) cannot compute \(g)") }
        geometry = g
        self.algorithm = algorithm
        self.activation = activation
        let taps = g.kernelHeight * g.kernelWidth
        switch algorithm {
        case .igemm, .gemm1x1:
            packed = F32PackedConvWeights(oihw: weights, bias: bias, outChannels: g.outChannels,
                                          inChannels: g.inChannels, taps: taps)
            depthwise = nil
            winograd = nil
            #if !SEGRUN_EDGE
            narrow = nil
            #endif
        case .depthwise:
            packed = nil
            depthwise = F32ConvDepthwise.PackedWeights(oihw: weights, bias: bias, channels: g.inChannels, taps: taps)
            winograd = nil
            #if !SEGRUN_EDGE
            narrow = nil
            #endif
        case .winograd(let variant):
            packed = nil
            depthwise = nil
            winograd = F32ConvWinograd.Plan(g, variant: variant, weights: weights, bias: bias, spread: spread)
            #if !SEGRUN_EDGE
            narrow = nil
            #endif
        #if !SEGRUN_EDGE
        case .winogradNarrow:
            packed = nil
            depthwise = nil
            winograd = nil
            narrow = F32ConvWinogradNarrow.Plan(g, weights: weights, bias: bias)
        #endif
        }
    }

    /// Bytes of packed (and, for Winograd, transformed) weights and bias this plan holds.
    public var packedWeightBytes: Int {
        var floats = (packed.map { $0.data.count + $0.bias.count } ?? 0)
            + (depthwise.map { $0.data.count + $0.bias.count } ?? 0)
            + (winograd.map { $0.weights.data.count + $0.weights.bias.count + $0.bias.count } ?? 0)
        #if !SEGRUN_EDGE
        floats += narrow.map { $0.weights.count + $0.bias.count } ?? 0
        #endif
        return floats * 4
    }

    /// Consecutive images that one run covers (prepare, then run its work items): 1, or the whole batch
    /// for Winograd layers whose weights outweigh an image (their tiles form one GEMM).
    public var imagesPerRun: Int { winograd?.images ?? 1 }

    /// Floats of the prepared input of one run (0 when the algorithm reads the caller's images directly).
    public var preparedInputFloats: Int {
        let g = geometry
        switch algorithm {
        case .gemm1x1: return 0
        case .igemm, .depthwise: return g.paddedHeight * g.paddedWidth * g.inChannels
        case .winograd: return winograd!.paddedInputFloats * winograd!.images
        #if !SEGRUN_EDGE
        case .winogradNarrow: return narrow!.preparedInputFloats
        #endif
        }
    }

    /// Independent work items of one run.
    public var workItems: Int {
        switch algorithm {
        case .igemm: return F32ConvIgemm.workItems(geometry, weights: packed!)
        case .gemm1x1: return F32Conv1x1Gemm.workItems(geometry, weights: packed!)
        case .depthwise: return F32ConvDepthwise.rowCount(geometry)
        case .winograd: return winograd!.workItems
        #if !SEGRUN_EDGE
        case .winogradNarrow: return narrow!.workItems
        #endif
        }
    }

    /// Scratch floats a thread needs while it runs work items.
    public var scratchFloats: Int {
        #if !SEGRUN_EDGE
        if let narrow { return narrow.scratchFloats }
        #endif
        return winograd?.scratchFloats ?? 0
    }

    /// Rows of the prepared input of one run: the work items of `prepareInput`.
    public var preparedRows: Int {
        switch algorithm {
        case .gemm1x1: return 0
        case .igemm, .depthwise: return geometry.paddedHeight
        case .winograd: return winograd!.preparedRows
        #if !SEGRUN_EDGE
        case .winogradNarrow: return narrow!.preparedRows
        #endif
        }
    }

    /// Pads rows `rows` of the run's NHWC images (`imagesPerRun`, consecutive from `image`) into `prepared`
    /// (`preparedInputFloats` floats). No-op for `gemm1x1`.
    @export(interface)
    public func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let g = geometry
        switch algorithm {
        case .gemm1x1: return
        case .igemm, .depthwise:
            F32Pad.image(image, height: g.inHeight, width: g.inWidth, channels: g.inChannels,
                         top: g.padTop, left: g.padLeft, bottom: g.padBottom, right: g.padRight,
                         into: prepared, dstChannels: g.inChannels, rows: rows)
        case .winograd: winograd!.prepareInput(image, into: prepared, rows: rows)
        #if !SEGRUN_EDGE
        case .winogradNarrow:
            narrow!.prepareInput(image, into: prepared, rows: rows)
        #endif
        }
    }

    /// `prepareInput` of one image (`imagesPerRun == 1`) whose input channels are `blocks`, stacked and padded in
    /// one pass: the same prepared input as stacking them into an image first. Not for `gemm1x1`, which reads
    /// its input in place.
    @export(interface)
    public func prepareInput(_ blocks: ChannelBlocks, into prepared: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let g = geometry
        precondition(blocks.stackedChannels == g.inChannels && imagesPerRun == 1, "stacked blocks must make one image of the input's channels")
        switch algorithm {
        case .gemm1x1: preconditionFailure("gemm1x1 reads its input in place: stack it")
        case .igemm, .depthwise:
            F32Pad.image(blocks, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft, bottom: g.padBottom, right: g.padRight,
                         into: prepared, dstChannels: g.inChannels, rows: rows)
        case .winograd: winograd!.prepareInput(blocks, into: prepared, rows: rows)
        #if !SEGRUN_EDGE
        case .winogradNarrow:
            narrow!.prepareInput(blocks, into: prepared, rows: rows)
        #endif
        }
    }

    /// Computes work items `items` of one run. `input` is the prepared input (or, for `gemm1x1`, the image
    /// itself); `output` is the NHWC output of the run's first image.
    @export(interface)
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, items: Range<Int>,
                    scratch: UnsafeMutablePointer<Float>?) {
        switch algorithm {
        case .igemm, .gemm1x1:
            // A 1x1 kernel without padding reads the image itself as its padded input (`F32Conv1x1Gemm`); one call
            // site, so the edge binary's copies hold the loop once.
            F32ConvIgemm.run(geometry, weights: packed!, paddedInput: input, output: output, items: items, activation: activation)
        case .depthwise:
            F32ConvDepthwise.run(geometry, weights: depthwise!, paddedInput: input, output: output, rows: items, activation: activation)
        case .winograd:
            winograd!.run(paddedInput: input, output: output, items: items, scratch: scratch!, activation: activation)
        #if !SEGRUN_EDGE
        case .winogradNarrow:
            narrow!.run(paddedInput: input, output: output, items: items, scratch: scratch!, activation: activation)
        #endif
        }
    }

    /// Whether `runVolume` computes this plan on a one-channel volume whose depth taps (`dilation` slices apart)
    /// are the plan's input channels, reading them from the volume: the narrow Winograd kernel's volume run
    /// (`F32ConvWinogradNarrow.Plan.runVolume`; never in segrun-edge, which has no narrow kernel).
    public func runsVolume(depthDilation dilation: Int) -> Bool {
        #if !SEGRUN_EDGE
        if let narrow { return narrow.runsVolume(depthDilation: dilation) }
        #endif
        return false
    }

    /// Work items of `runVolume` per image.
    public var volumeWorkItems: Int {
        #if !SEGRUN_EDGE
        if let narrow { return narrow.volumeWorkItems }
        #endif
        return 0
    }

    /// Scratch floats a thread needs in `runVolume`.
    public var volumeScratchFloats: Int {
        #if !SEGRUN_EDGE
        if let narrow { return narrow.volumeScratchFloats }
        #endif
        return 0
    }

    /// Work items `items` of one image of a one-channel volume (`runsVolume`): every output slice's part of them,
    /// with the same bits as the stacked run of each output slice.
    /// `streaming` overrides whether the output is streamed past the caches (by default when it is large).
    public func runVolume(_ volume: UnsafePointer<Float>, depth: DepthTaps, output: UnsafeMutablePointer<Float>, items: Range<Int>,
                          scratch: UnsafeMutablePointer<Float>, streaming: Bool? = nil) {
        #if !SEGRUN_EDGE
        if let narrow {
            narrow.runVolume(volume, depth: depth, output: output, tileRows: items, scratch: scratch, activation: activation, streaming: streaming)
            return
        }
        #endif
        preconditionFailure("runVolume needs a plan that runsVolume")
    }

    /// Runs a whole batch on the calling thread (allocates its buffers). For tests and tools;
    /// the Engine's operator runs the same phases over threads.
    @export(interface)
    public func runSingleThreaded(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let g = geometry
        let prepared = AlignedBuffer(count: preparedInputFloats)
        let scratch = AlignedBuffer(count: scratchFloats)
        for n in stride(from: 0, to: g.batch, by: imagesPerRun) {
            let image = input + n * g.inputShape.elementsPerImage
            let out = output + n * g.outputShape.elementsPerImage
            if preparedInputFloats > 0 {
                prepareInput(image, into: prepared.pointer, rows: 0..<preparedRows)
                run(input: prepared.constPointer, output: out, items: 0..<workItems, scratch: scratch.pointer)
            } else {
                run(input: image, output: out, items: 0..<workItems, scratch: scratch.pointer)
            }
        }
    }
}
