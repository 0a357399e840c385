import Kernels

public enum UpsampleMode: Equatable {
    case nearest
    case bilinear(alignCorners: Bool)
}

/// Resampling (PyTorch `F.interpolate`, ONNX `Resize`) by an integer scale, by any factor per axis, or
/// (`scale == 0`, no factors) to the spatial size of the node's second input. Nearest takes the source pixel
/// `floor(dst * in / out)` (PyTorch's "nearest"); linear maps coordinates with `align_corners` or by pixel
/// centres (half-pixel, PyTorch's `align_corners=False`). With factors the output is `floor(in * factor)`
/// per axis and the coordinates map with `in / out` (PyTorch's `recompute_scale_factor=True`), so any
/// downsampling or fractional upsampling (0.5, 1.5, 2.25) is one node.
public struct UpsampleAttributes: OperatorDefinition {
    public var mode: UpsampleMode
    public var scale: Int
    /// A factor per spatial axis ([D,] H, W); when set, `scale` is 0 and unused.
    public var factors: [Float]?

    public init(mode: UpsampleMode, scale: Int) {
        self.mode = mode
        self.scale = scale
    }

    /// Stored with `scale` 0, so that a reader from before factors (2.0) refuses the node (it then expects a
    /// second operand) instead of ignoring the factors.
    public init(mode: UpsampleMode, factors: [Float]) {
        self.mode = mode
        scale = 0
        self.factors = factors
    }

    public static let fileName = "upsample"
    public var kind: String { "upsample" }
    public var op: Op { .upsample(self) }
    public var operandCount: ClosedRange<Int> { scale == 0 && factors == nil ? 2...2 : 1...1 }
    public var quantizationRole: QuantizationRole { .int8SameScale }

    public func encode(into a: inout NodeAttributeWriter) {
        switch mode {
        case .nearest: a.string("mode", "nearest")
        case .bilinear(let alignCorners): a.string("mode", "bilinear"); a.int("align_corners", alignCorners ? 1 : 0)
        }
        a.int("scale", scale)
        if let factors { a.floats("factors", factors) }
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        let mode: UpsampleMode
        switch a.string("mode") {
        case "nearest": mode = .nearest
        case "bilinear": mode = .bilinear(alignCorners: try a.int("align_corners", default: 0) != 0)
        default: throw a.fail("unknown upsampling mode '\(a.attributes["mode"]?.description ?? "missing")'")
        }
        var u = UpsampleAttributes(mode: mode, scale: try a.int("scale"))
        if case .floats(let f)? = a.attributes["factors"] { u.factors = try a.floats("factors", count: (2...3).contains(f.count) ? f.count : 2) }
        return .upsample(u)
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        var out = operands[0]
        let rank = out.spatialRank
        if let factors {
            if factors.count != rank || !factors.allSatisfy({ $0 > 0 && $0.isFinite && $0 <= 1024 }) {
                throw context.fail("resize factors must be \(rank) finite numbers in (0, 1024], one per spatial axis of \(out), got \(factors)")
            }
            out.spatial = (0..<rank).map { Int((Double(out.spatial[$0]) * Double(factors[$0])).rounded(.down)) }
            if out.spatial.contains(where: { $0 < 1 }) { throw context.fail("resizing \(operands[0]) by \(factors) leaves no pixels") }
        } else if scale == 0 {
            if operands[1].spatialRank != rank { throw context.fail("cannot resize \(operands[0]) like \(operands[1]): different spatial axes") }
            out.spatial = operands[1].spatial
        } else if scale > 0 {
            out.spatial = out.spatial.map { $0 * scale }
        } else {
            throw context.fail("upsampling scale must be positive, got \(scale)")
        }
        return out
    }
}

extension UpsampleAttributes {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        if context.x.depth != nil { return planVolume(context) }
        let mode = self.mode
        return PreparedOp { r in
            var one = r.xs.image
            one.batch = 1
            let shape = r.shape
            eachImageRows(r.xs, shape, r.x, r.output, r.threads) { src, dst, rows in
                switch mode {
                case .nearest:
                    F32Upsample.nearest(one, outHeight: shape.height, outWidth: shape.width, input: src, output: dst, rows: rows)
                case .bilinear(let alignCorners):
                    F32Upsample.bilinear(one, outHeight: shape.height, outWidth: shape.width, alignCorners: alignCorners,
                                         input: src, output: dst, rows: rows)
                }
            }
        }
    }
}

extension UpsampleAttributes {
    /// A volume (`VolumeSlices`): each output slice is the in-plane resize of its nearest input slice, or, for
    /// linear modes, the blend of the resizes of the two input slices around it.
    func planVolume(_ context: FloatPlanContext) -> PreparedOp {
        let xs = context.x, s = context.output, inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1, mode = self.mode
        let one = ImageShape(batch: 1, channels: xs.channels, height: xs.height, width: xs.width)
        let count = s.height * s.width * s.channels, scratch = VolumeSlices.sliceFloats(s), rows = 0..<s.height
        func resize(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
            switch mode {
            case .nearest: F32Upsample.nearest(one, outHeight: s.height, outWidth: s.width, input: src, output: dst, rows: rows)
            case .bilinear(let alignCorners):
                F32Upsample.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: alignCorners, input: src, output: dst, rows: rows)
            }
        }
        return PreparedOp(workspaceFloats: scratch * context.threads) { r in
            ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { items, thread in
                let temp = r.workspace + thread * scratch
                for item in items {
                    let n = item / outDepth, oz = item % outDepth, out = VolumeSlices.slice(r.output, s, image: n, depth: oz)
                    let tap: (i0: Int, i1: Int, fraction: Float)
                    switch mode {
                    case .nearest: tap = (F32Upsample.nearestSource(oz, inSize: inDepth, outSize: outDepth), 0, 0)
                    case .bilinear(let alignCorners): tap = F32Upsample.bilinearTap(oz, inSize: inDepth, outSize: outDepth, alignCorners: alignCorners)
                    }
                    resize(VolumeSlices.slice(r.x, xs, image: n, depth: tap.i0), out)
                    if tap.fraction != 0 && tap.i1 != tap.i0 {
                        resize(VolumeSlices.slice(r.x, xs, image: n, depth: tap.i1), temp)
                        let f = tap.fraction
                        for i in 0..<count { out[i] = (1 - f) * out[i] + f * temp[i] }
                    }
                }
            }
        }
    }

    /// Separable over the axes: nearest takes `floor(dst * in / out)` per axis; linear blends the two
    /// neighbours on each axis (bilinear on images, trilinear on volumes).
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0]
        var out = context.zeros()
        let s = out.shape, inExtent = [x.shape.depth ?? 1, x.shape.height, x.shape.width], outExtent = [s.depth ?? 1, s.height, s.width]
        /// The two source indices on axis `a` for output index `o` and the weight of the second.
        func taps(_ a: Int, _ o: Int) -> (Int, Int, Double) {
            let i = inExtent[a], n = outExtent[a]
            switch mode {
            case .nearest: return (min(o * i / n, i - 1), 0, 0)
            case .bilinear(let alignCorners):
                let src = F32Upsample.sourceCoordinate(o, inSize: i, outSize: n, alignCorners: alignCorners)
                let i0 = min(Int(src), i - 1)
                return (i0, min(i0 + 1, i - 1), src - Double(i0))
            }
        }
        for n in 0..<s.batch { for c in 0..<s.channels { for oz in 0..<outExtent[0] { for oy in 0..<s.height { for ox in 0..<s.width {
            let (z0, z1, fz) = taps(0, oz), (y0, y1, fy) = taps(1, oy), (x0, x1, fx) = taps(2, ox)
            func plane(_ z: Int) -> Double {
                (1 - fy) * ((1 - fx) * x.data[x.index(n, c, z, y0, x0)] + fx * x.data[x.index(n, c, z, y0, x1)])
                    + fy * ((1 - fx) * x.data[x.index(n, c, z, y1, x0)] + fx * x.data[x.index(n, c, z, y1, x1)])
            }
            out.data[out.index(n, c, oz, oy, ox)] = fz == 0 ? plane(z0) : (1 - fz) * plane(z0) + fz * plane(z1)
        } } } } }
        return out
    }
}

extension UpsampleAttributes {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        if xs.depth != nil { return trainingForwardVolume(tape, node: i, output: &out) }
        var one = xs.image
        one.batch = 1
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
            for n in 0..<s.batch {
                let src = xp.baseAddress! + n * xs.elementsPerImage, dst = op.baseAddress! + n * s.elementsPerImage
                switch mode {
                case .nearest: F32Upsample.nearest(one, outHeight: s.height, outWidth: s.width, input: src, output: dst, rows: 0..<s.height)
                case .bilinear(let align):
                    F32Upsample.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: align, input: src, output: dst, rows: 0..<s.height)
                }
            }
        } }
    }

    /// The size operand of a resize-to-like receives no gradient.
    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        if xs.depth != nil { return Autograd.accumulate(&grads[j], backwardVolume(tape, node: i, outputGradient: dyIn)) }
        var one = xs.image
        one.batch = 1
        var dx = [Float](repeating: 0, count: xs.elementCount)
        dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
            for n in 0..<s.batch {
                let src = dp.baseAddress! + n * s.elementsPerImage, dst = xp.baseAddress! + n * xs.elementsPerImage
                switch mode {
                case .nearest: F32LayerBackward.nearest(one, outHeight: s.height, outWidth: s.width, outputGradient: src, inputGradient: dst)
                case .bilinear(let align):
                    F32LayerBackward.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: align, outputGradient: src, inputGradient: dst)
                }
            }
        } }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension UpsampleAttributes {
    /// The input slices output slice `oz` of a volume reads along depth and the weight of the second.
    func depthTap(_ oz: Int, inDepth: Int, outDepth: Int) -> (i0: Int, i1: Int, fraction: Float) {
        switch mode {
        case .nearest: return (F32Upsample.nearestSource(oz, inSize: inDepth, outSize: outDepth), 0, 0)
        case .bilinear(let alignCorners): return F32Upsample.bilinearTap(oz, inSize: inDepth, outSize: outDepth, alignCorners: alignCorners)
        }
    }

    /// Training's resize of a volume, separable like the fp32 executor's: every input slice resized in-plane,
    /// then each output slice blended from the one or two slices around it.
    func trainingForwardVolume(_ tape: Autograd, node i: Int, output out: inout [Float]) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j], inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        let one = ImageShape(batch: 1, channels: xs.channels, height: xs.height, width: xs.width), mode = self.mode
        let plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels, slices = s.batch * inDepth
        var resized = Autograd.uninitialized(slices * plane)
        tape.values[j].withUnsafeBufferPointer { xp in resized.withUnsafeMutableBufferPointer { rp in
            let x = xp.baseAddress!, r = rp.baseAddress!
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    switch mode {
                    case .nearest: F32Upsample.nearest(one, outHeight: s.height, outWidth: s.width, input: x + k * inPlane, output: r + k * plane, rows: 0..<s.height)
                    case .bilinear(let align):
                        F32Upsample.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: align, input: x + k * inPlane,
                                             output: r + k * plane, rows: 0..<s.height)
                    }
                }
            }
        } }
        resized.withUnsafeBufferPointer { rp in out.withUnsafeMutableBufferPointer { op in
            let r = rp.baseAddress!, o = op.baseAddress!
            ParallelFor.run(count: s.batch * outDepth, threads: tape.threads) { items, _ in
                for item in items {
                    let n = item / outDepth, tap = depthTap(item % outDepth, inDepth: inDepth, outDepth: outDepth), dst = o + item * plane
                    let a = r + (n * inDepth + tap.i0) * plane, b = r + (n * inDepth + tap.i1) * plane, f = tap.fraction
                    if f == 0 || tap.i1 == tap.i0 {
                        dst.update(from: a, count: plane)
                    } else {
                        for e in 0..<plane { dst[e] = (1 - f) * a[e] + f * b[e] }
                    }
                }
            }
        } }
    }

    /// The input gradient of `trainingForwardVolume`: dY back through the depth blend (each input slice sums its
    /// readers in output order), then through each slice's in-plane resize.
    func backwardVolume(_ tape: Autograd, node i: Int, outputGradient dy: [Float]) -> [Float] {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j], inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        let one = ImageShape(batch: 1, channels: xs.channels, height: xs.height, width: xs.width), mode = self.mode
        let plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels, slices = s.batch * inDepth
        var resizedGradient = [Float](repeating: 0, count: slices * plane)
        dy.withUnsafeBufferPointer { dp in resizedGradient.withUnsafeMutableBufferPointer { rp in
            let d = dp.baseAddress!, r = rp.baseAddress!
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    let n = k / inDepth, iz = k % inDepth, dst = r + k * plane
                    for oz in 0..<outDepth {
                        let tap = depthTap(oz, inDepth: inDepth, outDepth: outDepth), src = d + (n * outDepth + oz) * plane
                        let single = tap.fraction == 0 || tap.i1 == tap.i0
                        var weight: Float = 0
                        if tap.i0 == iz { weight += single ? 1 : 1 - tap.fraction }
                        if !single && tap.i1 == iz { weight += tap.fraction }
                        if weight == 0 { continue }
                        for e in 0..<plane { dst[e] += weight * src[e] }
                    }
                }
            }
        } }
        var dx = Autograd.uninitialized(xs.elementCount)
        resizedGradient.withUnsafeBufferPointer { rp in dx.withUnsafeMutableBufferPointer { xp in
            let r = rp.baseAddress!, x = xp.baseAddress!
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    switch mode {
                    case .nearest:
                        F32LayerBackward.nearest(one, outHeight: s.height, outWidth: s.width, outputGradient: r + k * plane, inputGradient: x + k * inPlane)
                    case .bilinear(let align):
                        F32LayerBackward.bilinear(one, outHeight: s.height, outWidth: s.width, alignCorners: align, outputGradient: r + k * plane,
                                                  inputGradient: x + k * inPlane)
                    }
                }
            }
        } }
        return dx
    }
}

extension UpsampleAttributes {
    /// Int8 on the input's own scale when the node is quantized; a volume's resize runs in fp32 (a float island).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i]
        guard program.shapes[i].depth == nil, program.quantization[node.name] != nil, let xin = program.q8Value(node.inputs[0]) else { return nil }
        let mode = self.mode
        let kernel = Int8Program.Kernel { r in
            var one = r.xs.image
            one.batch = 1
            let shape = r.shape
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            eachImageRows(r.xs, shape, src, dst, r.threads) { s, d, rows in
                switch mode {
                case .nearest:
                    Q8Resampling.nearest(one, outHeight: shape.height, outWidth: shape.width, input: s, output: d, rows: rows)
                case .bilinear(let alignCorners):
                    Q8Resampling.bilinear(one, outHeight: shape.height, outWidth: shape.width, alignCorners: alignCorners,
                                          input: s, output: d, rows: rows)
                }
            }
        }
        return program.addStep(kernel, [xin.value], i, program.shapes[i], .q8(xin.parameters))
    }
}
