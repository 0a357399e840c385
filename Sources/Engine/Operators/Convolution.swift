import Kernels

/// Convolution over 1 to 3 spatial axes (PyTorch `Conv1d`/`Conv2d`/`Conv3d`, ONNX `Conv`). The window's
/// rank is the op's: weight `[out][in/groups][kd][kh][kw]` with as many kernel axes as it has, bias `[out]`.
public struct ConvAttributes: OperatorDefinition {
    public var outChannels: Int
    /// Kernel, stride, dilation and padding per spatial axis ([D,] H, W).
    public var window: SpatialWindow
    public var groups: Int
    /// Index into `Graph.parameters`.
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    /// A square (or cubic, `rank` 3) kernel with the same stride, dilation and padding on every axis.
    public init(outChannels: Int, kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int, rank: Int = 2,
                groups: Int = 1, weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.init(outChannels: outChannels, window: SpatialWindow(rank: rank, kernel: kernel, stride: stride, dilation: dilation, padding: padding),
                  groups: groups, weight: weight, bias: bias, activation: activation)
    }

    public init(outChannels: Int, window: SpatialWindow, groups: Int = 1, weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        self.window = window
        self.groups = groups
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    // The in-plane (H, W) window, which the 2D kernels take; a 3D window adds its depth axis in front.
    public var kernelHeight: Int { window.axis3(1).kernel }
    public var kernelWidth: Int { window.axis3(2).kernel }
    public var strideY: Int { window.axis3(1).stride }
    public var strideX: Int { window.axis3(2).stride }
    public var dilationY: Int { window.axis3(1).dilation }
    public var dilationX: Int { window.axis3(2).dilation }
    public var padTop: Int { window.axis3(1).padBegin }
    public var padLeft: Int { window.axis3(2).padBegin }
    public var padBottom: Int { window.axis3(1).padEnd }
    public var padRight: Int { window.axis3(2).padEnd }

    /// The 2D kernels' geometry for an input shape: the whole op for a 1D or 2D window, one depth tap on
    /// one depth slice for a 3D window.
    public func geometry(_ input: TensorShape) -> Conv2dGeometry {
        Conv2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height, inWidth: input.width,
                       outChannels: outChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                       strideY: strideY, strideX: strideX, dilationY: dilationY, dilationX: dilationX,
                       padTop: padTop, padLeft: padLeft, padBottom: padBottom, padRight: padRight, groups: groups)
    }

    /// The name format 2.0 gave it; the rank is the length of `kernel`.
    public static let fileName = "conv2d"
    public var kind: String { "conv\(window.rank)d" }
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
    public var outputBias: Int? { activation == .none ? bias : nil }
    public var quantizationRole: QuantizationRole { .weighted(weight: weight, bias: bias, axis: 0, supported: groups == 1) }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("out_channels", outChannels)
        window.encode(into: &a)
        a.int("groups", groups)
        a.int("weight", weight)
        if let bias { a.int("bias", bias) }
        a.activation(activation)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .conv2d(ConvAttributes(outChannels: try a.int("out_channels"), window: try SpatialWindow.decode(a), groups: try a.int("groups", default: 1),
                               weight: try a.int("weight"), bias: try a.optionalIndex("bias"), activation: try a.activation()))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let x = operands[0]
        if let problem = window.problem() { throw context.fail(problem) }
        // The in-plane geometry's checks (channels, groups: 1 or depthwise), then the window's on every axis.
        if let error = geometry(x).validate() { throw context.fail("\(error)") }
        var out = try window.outputShape(x, context)
        try context.expect(parameter: weight, count: outChannels * (x.channels / groups) * window.taps, "weight")
        if let bias { try context.expect(parameter: bias, count: outChannels, "bias") }
        out.channels = outChannels
        return out
    }

    public func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double {
        if window.rank < 3 { return geometry(operands[0]).directFLOPs / 2 }
        return Double(output.elementCount) * Double(operands[0].channels / groups) * Double(window.taps)
    }
}

extension ConvAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        if context.x.depth != nil { return try planVolume(context) }
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
    /// A 3D window on a volume (`VolumeSlices`): a depth-1 window is one fused 2D convolution per slice.
    /// Otherwise (groups 1) the depth taps become channels: output slice z is one 2D convolution, bias and
    /// activation fused, of the input slices its taps reach stacked channel-wise (zeros for taps in the
    /// padding), with weights `[o][kz * in + i][kh][kw]`: one call with `kd` times the input channels instead of
    /// `kd` calls and their sums, which keeps the 16-channel layers of full-resolution volumes efficient. A one-channel
    /// volume on the narrow Winograd kernel stacks nothing: the kernel reads the taps from the volume (`planVolumeRun`).
    /// Grouped (depthwise) windows run one 2D convolution per tap, summed, with the bias and activation last.
    /// The largest stacked volume (floats) that `planVolume` stacks whole for one batched call: 4 MiB (tests set
    /// 0 to compare against the slice-by-slice path).
    nonisolated(unsafe) static var batchedStackFloats = 1 << 20

    func planVolume(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        var readsParts = false
        return try planVolume(context, parts: nil, readsParts: &readsParts)
    }

    /// `planVolume`, offered the shapes of the `parts` of the channel concatenation that is operand 0, which the plan
    /// would then not build (`Executor/ConcatenationsReadInParts.swift`). Sets `readsParts` when the returned op reads
    /// the parts, given as its `inputs`, instead of operand 0.
    func planVolume(_ context: FloatPlanContext, parts offered: [TensorShape]?, readsParts: inout Bool) throws(GraphError) -> PreparedOp {
        let xs = context.x, s = context.output, d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        var g = geometry(xs)
        g.batch = 1
        let weights = context.floats(weight), bias = self.bias.map { context.floats($0) }, activation = self.activation
        let flops = 2 * multiplyAccumulates([xs], output: s), count = s.height * s.width * s.channels
        if d.kernel == 1 && d.stride == 1 && d.padBegin == 0 && d.padEnd == 0 && g.isPointwise {
            // A pointwise window (1x1x1, unit strides, no padding) reads each voxel's channels alone: the whole
            // batch of volumes is one image of `batch * depth * height` rows, one GEMM with no slice boundaries.
            // Every voxel's sum is the one the slice-by-slice run makes, so the bits are the same.
            var flat = g
            flat.inHeight = s.batch * inDepth * xs.height
            let op = try Conv2dOperator.make(flat, weights: weights, bias: bias, activation: activation, algorithm: context.algorithm(flat),
                                             threads: context.threads, node: context.node)
            return PreparedOp(workspaceFloats: op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                              convolution: (op.geometry, op.algorithm)) { r in
                op.run(input: r.x, output: r.output, workspace: r.workspace)
            }
        }
        if d.kernel == 1 {
            let op = try Conv2dOperator.make(g, weights: weights, bias: bias, activation: activation, algorithm: context.algorithm(g),
                                             threads: context.threads, node: context.node)
            if VolumeSlices.threadsTakeSlices(slices: s.batch * outDepth, threads: context.threads) {
                let perThread = (op.serialWorkspaceFloats + 15) / 16 * 16
                return PreparedOp(workspaceFloats: context.threads * perThread, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                                  convolution: (op.geometry, op.algorithm)) { r in
                    ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { slices, thread in
                        for item in slices {
                            let n = item / outDepth, oz = item % outDepth, iz = oz * d.stride - d.padBegin
                            let out = VolumeSlices.slice(r.output, s, image: n, depth: oz)
                            if iz >= 0 && iz < inDepth {
                                op.runOnCallingThread(input: VolumeSlices.slice(r.x, xs, image: n, depth: iz), output: out,
                                                      workspace: r.workspace + thread * perThread)
                            } else {
                                out.update(repeating: 0, count: count)
                                VolumeSlices.biasActivation(out, bias: bias, channels: s.channels, pixels: s.height * s.width, activation)
                            }
                        }
                    }
                }
            }
            return PreparedOp(workspaceFloats: op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                              convolution: (op.geometry, op.algorithm)) { r in
                for n in 0..<s.batch { for oz in 0..<outDepth {
                    let out = VolumeSlices.slice(r.output, s, image: n, depth: oz), iz = oz * d.stride - d.padBegin
                    if iz >= 0 && iz < inDepth {
                        op.run(input: VolumeSlices.slice(r.x, xs, image: n, depth: iz), output: out, workspace: r.workspace)
                    } else {
                        out.update(repeating: 0, count: count)
                        VolumeSlices.biasActivation(out, bias: bias, channels: s.channels, pixels: s.height * s.width, activation)
                    }
                } }
            }
        }
        if groups == 1 {
            let cin = xs.channels, kd = d.kernel, planeTaps = kernelHeight * kernelWidth, pixels = xs.height * xs.width
            var stackedGeometry = g
            stackedGeometry.inChannels = kd * cin
            var w = [Float](repeating: 0, count: outChannels * kd * cin * planeTaps)
            for o in 0..<outChannels { for ci in 0..<cin { for kz in 0..<kd { for t in 0..<planeTaps {
                w[((o * kd + kz) * cin + ci) * planeTaps + t] = weights[((o * cin + ci) * kd + kz) * planeTaps + t]
            } } } }
            // Deep layers on small volumes (the bottleneck's 256 channels at 4^3): the weights outweigh the whole
            // stacked volume, so every output slice is one image of a single batched 2D call, and each weight panel
            // is read once for all of them (Winograd puts their tiles in one block), not once per slice.
            let stacking = DepthStacking(batch: s.batch, longDepth: inDepth, shortDepth: outDepth, height: xs.height, width: xs.width,
                                         channels: cin, axis: d)
            let wholeStack = stacking.images * stacking.stackedImageFloats
            if stacking.images > 1 && wholeStack <= w.count && wholeStack <= Self.batchedStackFloats {
                var batched = stackedGeometry
                batched.batch = stacking.images
                let op = try Conv2dOperator.make(batched, weights: w, bias: bias, activation: activation,
                                                 algorithm: context.algorithm(batched), threads: context.threads, node: context.node)
                let stacked = (wholeStack + 15) / 16 * 16
                return PreparedOp(workspaceFloats: stacked + op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                                  convolution: (op.geometry, op.algorithm)) { r in
                    stacking.stack(UnsafePointer(r.x), images: 0..<stacking.images, into: r.workspace, threads: r.threads)
                    op.run(input: r.workspace, output: r.output, workspace: r.workspace + stacked)
                }
            }
            if planeTaps == 1 && g.strideY == 1 && g.strideX == 1 && g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0 {
                return planDepthTaps(context, weights: weights, bias: bias, flops: flops, reported: stackedGeometry)
            }
            let op = try Conv2dOperator.make(stackedGeometry, weights: w, bias: bias, activation: activation,
                                             algorithm: context.algorithm(stackedGeometry), threads: context.threads, node: context.node)
            #if SEGRUN_EDGE
            // segrun-edge builds every concatenation (the same bits) and reads one operand, to stay under 1.5 MB.
            let partCount = 1, blockChannels = cin, readsOffered = false
            /// The input slices output slice `oz`'s depth taps reach (nil: a tap in the padding, zeros).
            func tapSlices(_ r: FloatOperands, image n: Int, slice oz: Int, into sources: UnsafeMutablePointer<UnsafePointer<Float>?>) {
                for kz in 0..<kd {
                    let iz = oz * d.stride - d.padBegin + kz * d.dilation
                    sources[kz] = iz >= 0 && iz < inDepth ? UnsafePointer(VolumeSlices.slice(r.x, xs, image: n, depth: iz)) : nil
                }
            }
            #else
            // A channel concatenation of equal parts that the plan offers not to build (a U-Net decoder's skip and
            // up step) is read part by part: each tap's block of `cin` channels is the parts' slices one after
            // another, the same stacked input as the concatenation's.
            let parts = offered.flatMap { parts in
                parts.allSatisfy { $0.channels == parts[0].channels } && parts[0].channels * parts.count == cin ? parts : nil
            }
            let partCount = parts?.count ?? 1, blockChannels = cin / partCount, readsOffered = parts != nil
            /// The input slices output slice `oz`'s depth taps reach, a block per tap and part (nil: a tap in the
            /// padding, zeros).
            func tapSlices(_ r: FloatOperands, image n: Int, slice oz: Int, into sources: UnsafeMutablePointer<UnsafePointer<Float>?>) {
                for kz in 0..<kd {
                    let iz = oz * d.stride - d.padBegin + kz * d.dilation
                    for j in 0..<partCount {
                        sources[kz * partCount + j] = iz >= 0 && iz < inDepth
                            ? UnsafePointer(VolumeSlices.slice(r.inputs[j], parts?[j] ?? xs, image: n, depth: iz)) : nil
                    }
                }
            }
            #endif
            if cin == 1 && op.plan.runsVolume(depthDilation: d.dilation) {
                return planVolumeRun(op, context, flops: flops)
            }
            if op.takesChannelBlocks {
                // The algorithm pads its input into the workspace anyway: the taps are stacked there in the same pass.
                let blockCount = kd * partCount
                if VolumeSlices.threadsTakeSlices(slices: s.batch * outDepth, threads: context.threads) {
                    let perThread = (op.serialWorkspaceFloats + 15) / 16 * 16
                    readsParts = readsOffered
                    return PreparedOp(workspaceFloats: context.threads * perThread, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                                      convolution: (op.geometry, op.algorithm)) { r in
                        ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { slices, thread in
                            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: blockCount) { sources in
                                let blocks = ChannelBlocks(sources: UnsafePointer(sources.baseAddress!), count: blockCount, channels: blockChannels)
                                for item in slices {
                                    let n = item / outDepth, oz = item % outDepth
                                    tapSlices(r, image: n, slice: oz, into: sources.baseAddress!)
                                    op.runOnCallingThread(blocks, output: VolumeSlices.slice(r.output, s, image: n, depth: oz),
                                                          workspace: r.workspace + thread * perThread)
                                }
                            }
                        }
                    }
                }
                readsParts = readsOffered
                return PreparedOp(workspaceFloats: op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                                  convolution: (op.geometry, op.algorithm)) { r in
                    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: blockCount) { sources in
                        let blocks = ChannelBlocks(sources: UnsafePointer(sources.baseAddress!), count: blockCount, channels: blockChannels)
                        for n in 0..<s.batch { for oz in 0..<outDepth {
                            tapSlices(r, image: n, slice: oz, into: sources.baseAddress!)
                            op.run(blocks, output: VolumeSlices.slice(r.output, s, image: n, depth: oz), workspace: r.workspace)
                        } }
                    }
                }
            }
            let stacked = (pixels * kd * cin + 15) / 16 * 16
            /// Stacks output slice `oz`'s input taps into `buffer` (channels `kz * cin + i`; zeros outside the volume).
            func stack(_ r: FloatOperands, image n: Int, slice oz: Int, into buffer: UnsafeMutablePointer<Float>, pixels range: Range<Int>) {
                for kz in 0..<kd {
                    let iz = oz * d.stride - d.padBegin + kz * d.dilation
                    VolumeSlices.interleave(iz >= 0 && iz < inDepth ? UnsafePointer(VolumeSlices.slice(r.x, xs, image: n, depth: iz)) : nil,
                                            channels: cin, into: buffer + kz * cin, stride: kd * cin, pixels: range)
                }
            }
            if VolumeSlices.threadsTakeSlices(slices: s.batch * outDepth, threads: context.threads) {
                let perThread = stacked + (op.serialWorkspaceFloats + 15) / 16 * 16
                return PreparedOp(workspaceFloats: context.threads * perThread, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                                  convolution: (op.geometry, op.algorithm)) { r in
                    ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { slices, thread in
                        let buffer = r.workspace + thread * perThread
                        for item in slices {
                            let n = item / outDepth, oz = item % outDepth
                            stack(r, image: n, slice: oz, into: buffer, pixels: 0..<pixels)
                            op.runOnCallingThread(input: buffer, output: VolumeSlices.slice(r.output, s, image: n, depth: oz), workspace: buffer + stacked)
                        }
                    }
                }
            }
            return PreparedOp(workspaceFloats: stacked + op.workspaceFloats, packedWeightBytes: op.plan.packedWeightBytes, flops: flops,
                              convolution: (op.geometry, op.algorithm)) { r in
                let buffer = r.workspace, work = r.workspace + stacked
                for n in 0..<s.batch { for oz in 0..<outDepth {
                    ParallelFor.run(count: pixels, threads: r.threads) { range, _ in stack(r, image: n, slice: oz, into: buffer, pixels: range) }
                    op.run(input: buffer, output: VolumeSlices.slice(r.output, s, image: n, depth: oz), workspace: work)
                } }
            }
        }
        var ops: [Conv2dOperator] = []
        for kz in 0..<d.kernel {
            let w = VolumeSlices.tapWeights(weights, outer: outChannels * (xs.channels / groups), depth: d.kernel,
                                            planeTaps: kernelHeight * kernelWidth, tap: kz)
            ops.append(try Conv2dOperator.make(g, weights: w, bias: nil, activation: .none, algorithm: context.algorithm(g),
                                               threads: context.threads, node: context.node))
        }
        let scratch = VolumeSlices.sliceFloats(s)
        return PreparedOp(workspaceFloats: scratch + ops[0].workspaceFloats, packedWeightBytes: ops.reduce(0) { $0 + $1.plan.packedWeightBytes },
                          flops: flops, convolution: (ops[0].geometry, ops[0].algorithm)) { r in
            let temp = r.workspace, work = r.workspace + scratch
            for n in 0..<s.batch { for oz in 0..<outDepth {
                let out = VolumeSlices.slice(r.output, s, image: n, depth: oz), taps = VolumeSlices.taps(oz, d, inDepth: inDepth)
                if taps.isEmpty { out.update(repeating: 0, count: count) }
                for (k, t) in taps.enumerated() {
                    let src = UnsafePointer(VolumeSlices.slice(r.x, xs, image: n, depth: t.slice))
                    ops[t.tap].run(input: src, output: k == 0 ? out : temp, workspace: work)
                    if k > 0 { VolumeSlices.add(temp, into: out, count: count, threads: r.threads) }
                }
                VolumeSlices.biasActivation(out, bias: bias, channels: s.channels, pixels: s.height * s.width, activation, threads: r.threads)
            } }
        }
    }
}

extension ConvAttributes {
    /// A one-channel volume whose depth taps the 2D plan of `op` reads from the volume itself (`F32Conv2dPlan.runVolume`):
    /// each work item is a row of tiles through the whole depth, so every input slice is transformed once, not once
    /// per tap. The same bits as the stacked run of each output slice, for any thread count.
    func planVolumeRun(_ op: Conv2dOperator, _ context: FloatPlanContext, flops: Double) -> PreparedOp {
        let xs = context.x, s = context.output, d = window.axis3(0), plan = op.plan
        let depth = DepthTaps(inDepth: xs.depth ?? 1, outDepth: s.depth ?? 1, stride: d.stride, padBegin: d.padBegin, dilation: d.dilation)
        let rows = plan.volumeWorkItems, perThread = (plan.volumeScratchFloats + 15) / 16 * 16
        return PreparedOp(workspaceFloats: context.threads * perThread, packedWeightBytes: plan.packedWeightBytes, flops: flops,
                          convolution: (op.geometry, op.algorithm)) { r in
            ParallelFor.run(count: s.batch * rows, threads: r.threads) { items, thread in
                var item = items.lowerBound
                while item < items.upperBound {
                    let n = item / rows, end = min(items.upperBound, (n + 1) * rows)
                    plan.runVolume(VolumeSlices.slice(r.x, xs, image: n, depth: 0), depth: depth,
                                   output: VolumeSlices.slice(r.output, s, image: n, depth: 0), items: (item - n * rows)..<(end - n * rows),
                                   scratch: r.workspace + thread * perThread)
                    item = end
                }
            }
        }
    }
}

extension ConvAttributes {
    /// A `kd x 1 x 1` window without in-plane stride or padding (through-plane convolutions): stacks nothing. The
    /// input slices one output slice reads are rows of one 2D image (a slice per row, its pixels along the row), so
    /// the slice is a `taps x 1` 2D convolution of them, run by the implicit GEMM where they lie (`F32ConvIgemm`
    /// takes whole slices as its taps). Taps in the depth padding are left out: output slices at the volume's ends
    /// read a shorter run of taps, with weights packed for that run. The same bits as the 1x1 GEMM over the stacked
    /// taps (`reported` is that geometry, for `segrun info`).
    func planDepthTaps(_ context: FloatPlanContext, weights: [Float], bias: [Float]?, flops: Double,
                       reported: Conv2dGeometry) -> PreparedOp {
        let xs = context.x, s = context.output, d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        let cin = xs.channels, kd = d.kernel, pixels = s.height * s.width, activation = self.activation
        /// One run of taps `taps` and the 2D convolution that computes it.
        struct TapRun { let taps: Range<Int>; let geometry: Conv2dGeometry; let weights: F32PackedConvWeights; let workItems: Int }
        var planned: [TapRun] = [], runOfSlice = [Int](repeating: -1, count: outDepth)
        for oz in 0..<outDepth {
            let taps = VolumeSlices.taps(oz, d, inDepth: inDepth)
            guard let first = taps.first?.tap, let last = taps.last?.tap else { continue }
            if let known = planned.firstIndex(where: { $0.taps == first..<(last + 1) }) { runOfSlice[oz] = known; continue }
            let n = last + 1 - first
            let g = Conv2dGeometry(batch: 1, inChannels: cin, inHeight: (n - 1) * d.dilation + 1, inWidth: pixels, outChannels: outChannels,
                                   kernelHeight: n, kernelWidth: 1, strideY: 1, strideX: 1, dilationY: d.dilation, dilationX: 1,
                                   padTop: 0, padLeft: 0, padBottom: 0, padRight: 0, groups: 1)
            let packed = withOptionalPointer(bias) { b in
                F32PackedConvWeights(outChannels: outChannels, inChannels: cin, taps: n, bias: b) { o, i, t in weights[(o * cin + i) * kd + first + t] }
            }
            planned.append(TapRun(taps: first..<(last + 1), geometry: g, weights: packed, workItems: F32ConvIgemm.workItems(g, weights: packed)))
            runOfSlice[oz] = planned.count - 1
        }
        let runs = planned, slices = s.batch * outDepth, outCount = pixels * s.channels
        /// Work items `range` of output slice `slice` (all of them: nil).
        func runSlice(_ r: FloatOperands, _ slice: Int, items range: Range<Int>?) {
            let n = slice / outDepth, oz = slice % outDepth, out = VolumeSlices.slice(r.output, s, image: n, depth: oz)
            guard runOfSlice[oz] >= 0 else {
                if (range?.lowerBound ?? 0) == 0 {
                    out.update(repeating: 0, count: outCount)
                    VolumeSlices.biasActivation(out, bias: bias, channels: s.channels, pixels: pixels, activation)
                }
                return
            }
            let run = runs[runOfSlice[oz]], iz = oz * d.stride - d.padBegin + run.taps.lowerBound * d.dilation
            F32ConvIgemm.run(run.geometry, weights: run.weights, paddedInput: VolumeSlices.slice(r.x, xs, image: n, depth: iz), output: out,
                             items: range ?? 0..<run.workItems, activation: activation)
        }
        let takeSlices = VolumeSlices.threadsTakeSlices(slices: slices, threads: context.threads)
        let packedBytes = runs.reduce(0) { $0 + ($1.weights.data.count + $1.weights.bias.count) * 4 }
        return PreparedOp(packedWeightBytes: packedBytes, flops: flops, convolution: (reported, .igemm)) { r in
            if takeSlices {
                ParallelFor.run(count: slices, threads: r.threads) { range, _ in
                    for slice in range { runSlice(r, slice, items: nil) }
                }
            } else {
                for slice in 0..<slices {
                    let items = runOfSlice[slice % outDepth] >= 0 ? runs[runOfSlice[slice % outDepth]].workItems : 1
                    ParallelFor.run(count: items, threads: r.threads) { range, _ in runSlice(r, slice, items: range) }
                }
            }
        }
    }
}

extension ConvAttributes {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], w = context.values(weight), b = bias.map { context.values($0) }
        var out = context.zeros()
        let s = out.shape, cin = x.shape.channels, groupIn = cin / groups, groupOut = outChannels / groups
        let (ad, ah, aw) = (window.axis3(0), window.axis3(1), window.axis3(2)), taps = window.taps
        let (id, ih, iw) = (x.shape.depth ?? 1, x.shape.height, x.shape.width)
        for n in 0..<s.batch { for o in 0..<s.channels {
            let group = o / groupOut
            for oz in 0..<(s.depth ?? 1) { for oy in 0..<s.height { for ox in 0..<s.width {
                var acc = b?[o] ?? 0
                for ci in 0..<groupIn { for kz in 0..<ad.kernel { for ky in 0..<ah.kernel { for kx in 0..<aw.kernel {
                    let iz = oz * ad.stride - ad.padBegin + kz * ad.dilation
                    let iy = oy * ah.stride - ah.padBegin + ky * ah.dilation, ix = ox * aw.stride - aw.padBegin + kx * aw.dilation
                    if iz < 0 || iz >= id || iy < 0 || iy >= ih || ix < 0 || ix >= iw { continue }
                    let tap = (kz * ah.kernel + ky) * aw.kernel + kx
                    acc += w[(o * groupIn + ci) * taps + tap] * x.data[x.index(n, group * groupIn + ci, iz, iy, ix)]
                } } } }
                out.data[out.index(n, o, oz, oy, ox)] = activation.apply(acc)
            } } }
        } }
        return out
    }
}

extension ConvAttributes {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0]
        let (g, stacking) = try trainingGeometry(tape.shapes[j], tape.shapes[i], node)
        guard let stacking, !stacking.isIdentity else {
            let op = try Conv2dOperator.make(g, weights: tape.parameter(weight), bias: bias.map { tape.parameter($0) }, activation: activation,
                                             algorithm: tape.algorithm(for: g), threads: tape.threads, node: node)
            tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op.run(input: xp.baseAddress!, output: $0.baseAddress!) } }
            return
        }
        // A volume: the stacked slices a block at a time (`Autograd.stackingBlockFloats`), never the whole
        // stacked volume (`kd` times the input). Each output slice is its own image, so the bits are those of
        // one run over every slice.
        let blocks = StackedBlocks(g, stacking, floats: tape.stackingBlockFloats)
        let op = try Conv2dOperator.make(blocks.geometry, weights: stackedWeights(tape, stacking), bias: bias.map { tape.parameter($0) },
                                         activation: activation, algorithm: tape.algorithm(for: g), threads: tape.threads, node: node)
        let stacked = AlignedBuffer(count: blocks.stackedFloats, zeroed: false), workspace = AlignedBuffer(count: op.workspaceFloats, zeroed: false)
        // A skip concatenation that training never builds is stacked from its operands (`concatenationOperands`).
        try tape.withStackParts(of: j, operands: tape.concatenationOperands(j, readBy: i)) { parts throws(GraphError) in
            out.withUnsafeMutableBufferPointer { yp in
                for images in blocks.ranges {
                    stacking.stack(parts, images: images, into: stacked.pointer, threads: tape.threads)
                    op.run(input: stacked.constPointer, output: yp.baseAddress! + images.lowerBound * g.outputShape.elementsPerImage,
                           workspace: workspace.pointer)
                }
            }
        }
    }

    /// Whether training stacks this convolution's input volume (depth taps as channels) rather than running it
    /// as a plain batch of slices: the convolutions that read a skip concatenation through its operands.
    func stacksDepth(_ input: TensorShape, _ output: TensorShape, _ node: Node) -> Bool {
        guard let (_, stacking) = try? trainingGeometry(input, output, node), let stacking else { return false }
        return !stacking.isIdentity
    }

    public var backwardReadsOutput: Bool { activation != .none }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0]
        let dy = tape.activationBackward(activation, ofNode: i, dyIn)
        let (g, stacking) = try trainingGeometry(tape.shapes[j], tape.shapes[i], node)
        if let bias { tape.addGradient(bias, tape.biasGradient(dy, channels: outChannels)) }
        // Nothing needs the gradient of the graph's input image (unless it is captured).
        let needsInputGradient: Bool
        if case .input = tape.graph.nodes[j].op, j != tape.capturing { needsInputGradient = false } else { needsInputGradient = true }
        guard let stacking, !stacking.isIdentity else {
            tape.addGradient(weight, try tape.weightGradient(g, input: tape.values[j], outputGradient: dy, node: node))
            tape.freeOperand(j, readBy: i)
            if needsInputGradient {
                Autograd.accumulate(&grads[j], try tape.convolutionInputGradient(g, weights: tape.parameter(weight), dy, node))
            }
            return
        }
        // A volume, a block of stacked slices at a time (as `trainingForward`): dW sums the blocks' in order; dX
        // adds each block's stacked gradient into the long slices it reaches, in the order one whole
        // `unstackAdd` would. dW goes first, over every block, so that the input (often recomputed for it:
        // `RecomputedActivations`) is gone before the input gradient, as large, is allocated.
        let blocks = StackedBlocks(g, stacking, floats: tape.stackingBlockFloats)
        let stacked = AlignedBuffer(count: blocks.stackedFloats, zeroed: false)
        let outStride = g.outputShape.elementsPerImage
        var dw: [Float] = []
        // A skip concatenation is read as its two operands (`concatenationOperands`), never rebuilt whole.
        let operands = tape.concatenationOperands(j, readBy: i)
        try tape.withStackParts(of: j, operands: operands) { parts throws(GraphError) in
            try dy.withUnsafeBufferPointer { dp throws(GraphError) in
                for images in blocks.ranges {
                    stacking.stack(parts, images: images, into: stacked.pointer, threads: tape.threads)
                    let blockDW = try tape.weightGradient(blocks.geometry, input: stacked.constPointer,
                                                          outputGradient: dp.baseAddress! + images.lowerBound * outStride, node: node)
                    if dw.isEmpty { dw = blockDW } else { Autograd.add(blockDW, into: &dw) }
                }
            }
        }
        tape.addGradient(weight, DepthStacking.unstackedWeights(dw, outer: outChannels, inner: g.inChannels / stacking.taps,
                                                                depth: stacking.taps, planeTaps: g.kernelHeight * g.kernelWidth))
        tape.freeOperand(j, readBy: i)
        guard needsInputGradient else { return }
        let inputGradient = try ConvInputGradient(blocks.geometry, weights: stackedWeights(tape, stacking), threads: tape.threads,
                                                  algorithm: { tape.algorithm(for: $0) }, node: node)
        if let operands {
            // One gradient per operand, added as the concatenation's backward would have split it.
            let (a, b) = (operands[0], operands[1])
            var da = [Float](repeating: 0, count: tape.shapes[a].elementCount), db = [Float](repeating: 0, count: tape.shapes[b].elementCount)
            dy.withUnsafeBufferPointer { dp in da.withUnsafeMutableBufferPointer { ap in db.withUnsafeMutableBufferPointer { bp in
                for images in blocks.ranges {
                    inputGradient.run(outputGradient: dp.baseAddress! + images.lowerBound * outStride, inputGradient: stacked.pointer)
                    stacking.unstackAdd(stacked.constPointer, images: images,
                                        into: [(ap.baseAddress!, tape.shapes[a].channels), (bp.baseAddress!, tape.shapes[b].channels)],
                                        threads: tape.threads)
                }
            } } }
            Autograd.accumulate(&grads[a], da)
            Autograd.accumulate(&grads[b], db)
            for k in operands { tape.releaseOperand(k, readLastBy: j) }
            return
        }
        var dx = [Float](repeating: 0, count: tape.shapes[j].elementCount)
        dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
            for images in blocks.ranges {
                inputGradient.run(outputGradient: dp.baseAddress! + images.lowerBound * outStride, inputGradient: stacked.pointer)
                stacking.unstackAdd(stacked.constPointer, images: images, into: xp.baseAddress!, threads: tape.threads)
            }
        } }
        Autograd.accumulate(&grads[j], dx)
    }

    /// The 2D convolution training runs: the whole op for an image; for a volume, one 2D convolution over the
    /// `batch * outDepth` output slices whose input stacks the depth taps as channels (`DepthStacking`).
    func trainingGeometry(_ xs: TensorShape, _ s: TensorShape, _ node: Node) throws(GraphError) -> (Conv2dGeometry, DepthStacking?) {
        var g = geometry(xs)
        guard let inDepth = xs.depth else { return (g, nil) }
        let stacking = DepthStacking(batch: xs.batch, longDepth: inDepth, shortDepth: s.depth ?? 1, height: xs.height, width: xs.width,
                                     channels: xs.channels, axis: window.axis3(0))
        if groups != 1 && !stacking.isIdentity {
            throw .shape(node: node.name, "training a grouped convolution needs a depth window of 1 (got \(window.kernel))")
        }
        g.batch = stacking.images
        g.inChannels = stacking.taps * xs.channels
        return (g, stacking)
    }

    /// The weights of the 2D convolution `trainingGeometry` gives (OIHW with the depth taps as input channels).
    func stackedWeights(_ tape: Autograd, _ stacking: DepthStacking?) -> [Float] {
        let w = tape.parameter(weight)
        guard let stacking, stacking.taps > 1 else { return w }
        return DepthStacking.stackedWeights(w, outer: outChannels, inner: w.count / (outChannels * window.taps), depth: stacking.taps,
                                            planeTaps: kernelHeight * kernelWidth)
    }
}

extension ConvAttributes {
    /// Int8 with per-channel int8 weights and a quantized input (groups 1): the fastest of GEMM and exact
    /// Winograd, or the integer reference loops. Otherwise (float weights, depthwise) fp32.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i], entry = program.quantization[node.name]
        guard var w = program.int8Weights(weight, outputAxis: 0), groups == 1, let xin = program.q8Value(node.inputs[0]) else { return nil }
        let xs = program.shapes[node.inputs[0]]
        var g = geometry(xs), input = xin.value
        // A volume: the 2D convolution over its stacked output slices (`Int8Volumes`), its steps seeing them as images.
        var images: (input: TensorShape, output: TensorShape)? = nil
        if let inDepth = xs.depth {
            let stacking = DepthStacking(batch: xs.batch, longDepth: inDepth, shortDepth: program.shapes[i].depth ?? 1, height: xs.height,
                                         width: xs.width, channels: xs.channels, axis: window.axis3(0))
            g.batch = stacking.images
            g.inChannels = stacking.taps * xs.channels
            if stacking.taps > 1 {
                w.values = DepthStacking.stackedWeights(w.values, outer: outChannels, inner: xs.channels, depth: stacking.taps, planeTaps: kernelHeight * kernelWidth)
            }
            if !stacking.isIdentity {
                input = program.depthStackStep(xin.value, stacking, parameters: xin.parameters, height: xs.height, width: xs.width, node: i)
            }
            images = (TensorShape(batch: g.batch, channels: g.inChannels, height: g.inHeight, width: g.inWidth),
                      TensorShape(batch: g.batch, channels: outChannels, height: g.outHeight, width: g.outWidth))
        }
        let d = program.convData(w, bias, xin.parameters, entry, activation, channels: outChannels)
        let kernel: Int8Program.Kernel
        if program.reference {
            var one = g
            one.batch = 1
            kernel = Int8Program.Kernel { step in
                let r = images.map { step.viewed(input: $0.input, output: $0.output) } ?? step
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
                kernel = Int8Program.Kernel { step in (images.map { step.viewed(input: $0.input, output: $0.output) } ?? step).runLayer(plan) }
            case .winograd(let plan):
                program.packedWeightBytes += plan.packedBytes
                program.scratchBytes = max(program.scratchBytes, plan.scratchBytes)
                kernel = Int8Program.Kernel { step in (images.map { step.viewed(input: $0.input, output: $0.output) } ?? step).runLayer(plan) }
            }
        }
        program.flops += g.directFLOPs
        return program.addStep(kernel, [input], i, program.shapes[i], entry.map { .q8($0) } ?? .float)
    }
}
