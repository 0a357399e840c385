import Kernels

/// Window of max and average pooling (PyTorch `MaxPool1d/2d/3d`, `AvgPool1d/2d/3d`, floor mode; average
/// pooling divides by the taps inside the input): kernel, stride and symmetric padding per spatial axis.
public struct PoolAttributes: Hashable {
    public var window: SpatialWindow

    /// The same kernel, stride and padding on each of `rank` axes.
    public init(kernel: Int, stride: Int, padding: Int = 0, rank: Int = 2) {
        window = SpatialWindow(rank: rank, kernel: kernel, stride: stride, padding: padding)
    }

    public init(window: SpatialWindow) { self.window = window }

    /// The 2D kernels' geometry (square in-plane windows; `requireSquarePlane` checks that it applies).
    public func geometry(_ input: TensorShape) -> Pool2dGeometry {
        let h = window.axis3(1)
        return Pool2dGeometry(batch: input.batch, channels: input.channels, inHeight: input.height, inWidth: input.width,
                              kernel: h.kernel, stride: h.stride, padding: h.padBegin)
    }

    /// Throws unless the 2D pooling kernels can run the window's in-plane part (square windows).
    func requireSquarePlane(_ kind: String, _ context: FloatPlanContext) throws(GraphError) {
        let h = window.axis3(1), w = window.axis3(2)
        if h.kernel != w.kernel || h.stride != w.stride || h.padBegin != w.padBegin {
            throw context.fail("\(kind) with window \(window.kernel) stride \(window.stride) runs in the Float64 reference only; the fp32 kernels take square windows")
        }
    }

    func encode(into a: inout NodeAttributeWriter) { window.encodeSymmetric(into: &a) }

    static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> PoolAttributes { PoolAttributes(window: try SpatialWindow.decodeSymmetric(a)) }

    func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if !window.isSymmetric { throw context.fail("pooling windows have the same padding on both sides and no dilation") }
        for a in 0..<window.rank where window.padBegin[a] * 2 > window.kernel[a] {
            throw context.fail("pooling padding \(window.padBegin) must be at most half the window \(window.kernel)")
        }
        return try window.outputShape(operands[0], context)
    }
}

public struct MaxPool2d: OperatorDefinition {
    public var window: PoolAttributes
    public init(_ window: PoolAttributes) { self.window = window }

    public static let fileName = "max_pool2d"
    public var kind: String { "max_pool\(window.window.rank)d" }
    public var op: Op { .maxPool2d(self) }
    public var quantizationRole: QuantizationRole { .int8SameScale }
    public func encode(into a: inout NodeAttributeWriter) { window.encode(into: &a) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .maxPool2d(MaxPool2d(try PoolAttributes.decode(a))) }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        try window.outputShape(operands, context)
    }
}

public struct AveragePool2d: OperatorDefinition {
    public var window: PoolAttributes
    public init(_ window: PoolAttributes) { self.window = window }

    public static let fileName = "avg_pool2d"
    public var kind: String { "avg_pool\(window.window.rank)d" }
    public var op: Op { .averagePool2d(self) }
    public func encode(into a: inout NodeAttributeWriter) { window.encode(into: &a) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .averagePool2d(AveragePool2d(try PoolAttributes.decode(a))) }
    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        try window.outputShape(operands, context)
    }
}

/// Adaptive average pooling to `bins` on every spatial axis (PSPNet's pyramid; 1 is global average pooling).
public struct AdaptiveAveragePool2d: OperatorDefinition {
    public var bins: Int
    public init(bins: Int) { self.bins = bins }

    public static let fileName = "adaptive_avg_pool2d"
    public var kind: String { "adaptive_avg_pool2d" }
    public var op: Op { .adaptiveAveragePool2d(self) }
    public func encode(into a: inout NodeAttributeWriter) { a.int("bins", bins) }
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op { .adaptiveAveragePool2d(bins: try a.int("bins")) }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if bins <= 0 { throw context.fail("adaptive pooling needs positive bins, got \(bins)") }
        var out = operands[0]
        out.spatial = Array(repeating: bins, count: out.spatialRank)
        return out
    }
}

extension MaxPool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        try window.requireSquarePlane(kind, context)
        if context.x.depth != nil { return window.planVolume(context, max: true) }
        let g = window.geometry(context.x)
        return PreparedOp { r in
            eachImageRows(r.xs, r.shape, r.x, r.output, r.threads) { src, dst, rows in
                F32Pooling.maxPool(g, input: src, output: dst, indices: nil, rows: rows)
            }
        }
    }
}

extension AveragePool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        try window.requireSquarePlane(kind, context)
        if context.x.depth != nil { return window.planVolume(context, max: false) }
        let g = window.geometry(context.x)
        return PreparedOp { r in
            eachImageRows(r.xs, r.shape, r.x, r.output, r.threads) { src, dst, rows in
                F32Pooling.averagePool(g, input: src, output: dst, rows: rows)
            }
        }
    }
}

extension AdaptiveAveragePool2d {
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        // Global pooling of a volume is global pooling of its D*H rows (`TensorShape.image`).
        if context.x.depth != nil && bins != 1 { try context.requireImages(kind) }
        let bins = self.bins
        return PreparedOp { r in
            var one = r.xs.image
            one.batch = 1
            for n in 0..<r.shape.batch {
                F32Pooling.adaptiveAveragePool(one, outHeight: bins, outWidth: bins,
                                               input: r.x + n * r.xs.elementsPerImage, output: r.output + n * r.shape.elementsPerImage)
            }
        }
    }
}

extension PoolAttributes {
    /// A window on a volume (`VolumeSlices`): the 2D pooling of each input slice the depth taps reach, then
    /// the max of those (max pooling) or their mean (average pooling: every slice has the same in-plane taps).
    func planVolume(_ context: FloatPlanContext, max isMax: Bool) -> PreparedOp {
        let xs = context.x, s = context.output, d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        var g = geometry(xs)
        g.batch = 1
        let count = s.height * s.width * s.channels, scratch = VolumeSlices.sliceFloats(s), rows = 0..<s.height
        return PreparedOp(workspaceFloats: scratch * context.threads) { r in
            ParallelFor.run(count: s.batch * outDepth, threads: r.threads) { items, thread in
                let temp = r.workspace + thread * scratch
                for item in items {
                    let n = item / outDepth, oz = item % outDepth
                    let out = VolumeSlices.slice(r.output, s, image: n, depth: oz), taps = VolumeSlices.taps(oz, d, inDepth: inDepth)
                    for (k, t) in taps.enumerated() {
                        let src = UnsafePointer(VolumeSlices.slice(r.x, xs, image: n, depth: t.slice)), dst = k == 0 ? out : temp
                        if isMax { F32Pooling.maxPool(g, input: src, output: dst, indices: nil, rows: rows) } else { F32Pooling.averagePool(g, input: src, output: dst, rows: rows) }
                        if k > 0 { isMax ? VolumeSlices.maximum(temp, into: out, count: count) : VolumeSlices.add(temp, into: out, count: count) }
                    }
                    if !isMax && taps.count > 1 {
                        let scale = 1 / Float(taps.count)
                        for i in 0..<count { out[i] *= scale }
                    }
                }
            }
        }
    }

    /// Max or mean over the window's taps inside the input.
    func reference(_ x: ReferenceTensor, max isMax: Bool, _ context: ReferenceContext) -> ReferenceTensor {
        var out = context.zeros()
        let s = out.shape, (ad, ah, aw) = (window.axis3(0), window.axis3(1), window.axis3(2))
        for n in 0..<s.batch { for c in 0..<s.channels { for oz in 0..<(s.depth ?? 1) { for oy in 0..<s.height { for ox in 0..<s.width {
            var best = -Double.infinity, sum = 0.0, count = 0
            for kz in 0..<ad.kernel { for ky in 0..<ah.kernel { for kx in 0..<aw.kernel {
                let iz = oz * ad.stride - ad.padBegin + kz, iy = oy * ah.stride - ah.padBegin + ky, ix = ox * aw.stride - aw.padBegin + kx
                if iz < 0 || iz >= (x.shape.depth ?? 1) || iy < 0 || iy >= x.shape.height || ix < 0 || ix >= x.shape.width { continue }
                let v = x.data[x.index(n, c, iz, iy, ix)]
                best = max(best, v)
                sum += v
                count += 1
            } } }
            out.data[out.index(n, c, oz, oy, ox)] = isMax ? best : sum / Double(count)
        } } } } }
        return out
    }
}

extension MaxPool2d {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        window.reference(operands[0], max: true, context)
    }
}

extension AveragePool2d {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        window.reference(operands[0], max: false, context)
    }
}

extension AdaptiveAveragePool2d {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0]
        var out = context.zeros()
        let s = out.shape, d = x.shape.depth ?? 1, h = x.shape.height, w = x.shape.width, binsZ = s.depth == nil ? 1 : bins
        // Bin i of an axis of extent e covers floor(i * e / bins) ..< ceil((i + 1) * e / bins).
        func span(_ i: Int, _ e: Int, _ bins: Int) -> Range<Int> { (i * e / bins)..<(((i + 1) * e + bins - 1) / bins) }
        for n in 0..<s.batch { for c in 0..<s.channels { for oz in 0..<binsZ { for oy in 0..<bins { for ox in 0..<bins {
            let zs = span(oz, d, binsZ), ys = span(oy, h, bins), xs = span(ox, w, bins)
            var sum = 0.0
            for z in zs { for y in ys { for xx in xs { sum += x.data[x.index(n, c, z, y, xx)] } } }
            out.data[out.index(n, c, oz, oy, ox)] = sum / Double(zs.count * ys.count * xs.count)
        } } } } }
        return out
    }
}

extension MaxPool2d {
    /// Keeps the argmax of every output (`Autograd.maxPoolIndices`) for the backward pass.
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        if xs.depth != nil { return try window.trainingForwardVolume(tape, node: i, output: &out, max: true) }
        let g = window.geometry(xs), threads = tape.threads
        var indices = [Int32](repeating: 0, count: s.elementCount)
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in indices.withUnsafeMutableBufferPointer { ip in
            let x = xp.baseAddress!, o = op.baseAddress!, ix = ip.baseAddress!, rows = s.height
            ParallelFor.run(count: s.batch * rows, threads: threads) { items, _ in
                for item in items {
                    let n = item / rows, y = item % rows
                    F32Pooling.maxPool(g, input: x + n * xs.elementsPerImage, output: o + n * s.elementsPerImage,
                                       indices: ix + n * s.elementsPerImage, rows: y..<(y + 1))
                }
            }
        } } }
        tape.maxPoolIndices[i] = indices
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j], g = window.geometry(xs)
        if xs.depth != nil { return Autograd.accumulate(&grads[j], window.backwardVolume(tape, node: i, outputGradient: dyIn, max: true)) }
        var dx = [Float](repeating: 0, count: xs.elementCount)
        let indices = tape.takeMaxPoolIndices(ofNode: i)
        dyIn.withUnsafeBufferPointer { dp in indices.withUnsafeBufferPointer { ip in dx.withUnsafeMutableBufferPointer { xp in
            // Images scatter into disjoint parts of dX, so they can run on different threads.
            let d = dp.baseAddress!, ix = ip.baseAddress!, dxb = xp.baseAddress!
            ParallelFor.run(count: s.batch, threads: tape.threads) { images, _ in
                for n in images {
                    F32LayerBackward.maxPool(g, outputGradient: d + n * s.elementsPerImage, indices: ix + n * s.elementsPerImage,
                                             inputGradient: dxb + n * xs.elementsPerImage)
                }
            }
        } } }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension AveragePool2d {
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j], g = window.geometry(xs)
        if xs.depth != nil { return try window.trainingForwardVolume(tape, node: i, output: &out, max: false) }
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
            for n in 0..<s.batch {
                F32Pooling.averagePool(g, input: xp.baseAddress! + n * xs.elementsPerImage, output: op.baseAddress! + n * s.elementsPerImage, rows: 0..<s.height)
            }
        } }
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j], g = window.geometry(xs)
        if xs.depth != nil { return Autograd.accumulate(&grads[j], window.backwardVolume(tape, node: i, outputGradient: dyIn, max: false)) }
        var dx = [Float](repeating: 0, count: xs.elementCount)
        dyIn.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { xp in
            for n in 0..<s.batch {
                F32LayerBackward.averagePool(g, outputGradient: dp.baseAddress! + n * s.elementsPerImage, inputGradient: xp.baseAddress! + n * xs.elementsPerImage)
            }
        } }
        Autograd.accumulate(&grads[j], dx)
    }
}

extension AdaptiveAveragePool2d {
    /// Global pooling of a volume is global pooling of its D*H rows (`TensorShape.image`); other bins need images.
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        if xs.depth != nil && bins != 1 {
            throw .shape(node: tape.graph.nodes[i].name, "adaptive average pooling to \(bins) bins trains on images only; volumes take 1 bin")
        }
        var one = xs.image
        one.batch = 1
        tape.values[j].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
            for n in 0..<s.batch {
                F32Pooling.adaptiveAveragePool(one, outHeight: bins, outWidth: bins, input: xp.baseAddress! + n * xs.elementsPerImage,
                                               output: op.baseAddress! + n * s.elementsPerImage)
            }
        } }
    }

    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
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
    }
}

extension MaxPool2d {
    /// Int8 on the input's own scale (max commutes with the affine map) when the node is quantized. A volume
    /// pools each slice in-plane, then takes the largest byte over the depth taps (`Int8Volumes`).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? {
        let node = program.graph.nodes[i], xs = program.shapes[node.inputs[0]], s = program.shapes[i]
        guard program.quantization[node.name] != nil, let xin = program.q8Value(node.inputs[0]) else { return nil }
        let h = window.window.axis3(1), w = window.window.axis3(2), d = window.window.axis3(0)
        if h.kernel != w.kernel || h.stride != w.stride || h.padBegin != w.padBegin { return nil }
        var g = window.geometry(xs)
        g.batch = 1
        let reference = program.reference
        // A volume's slices as images, pooled in-plane.
        let images = xs.depth.map { inDepth in
            (input: TensorShape(batch: xs.batch * inDepth, channels: xs.channels, height: xs.height, width: xs.width),
             output: TensorShape(batch: xs.batch * inDepth, channels: s.channels, height: s.height, width: s.width))
        }
        let kernel = Int8Program.Kernel { step in
            let r = images.map { step.viewed(input: $0.input, output: $0.output) } ?? step
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            if reference {
                for n in 0..<r.shape.batch {
                    let out = Q8Reference.maxPool(g, input: Array(UnsafeBufferPointer(start: src + n * r.xs.elementsPerImage, count: r.xs.elementsPerImage)))
                    (dst + n * r.shape.elementsPerImage).update(from: out, count: out.count)
                }
            } else {
                eachImageRows(r.xs, r.shape, src, dst, r.threads) { s, d, rows in Q8Resampling.maxPool(g, input: s, output: d, rows: rows) }
            }
        }
        guard let images, let inDepth = xs.depth else { return program.addStep(kernel, [xin.value], i, s, .q8(xin.parameters)) }
        if d.kernel == 1 && d.stride == 1 && d.padBegin == 0 { return program.addStep(kernel, [xin.value], i, s, .q8(xin.parameters)) }
        let pooled = program.addStep(kernel, [xin.value], i, images.output, .q8(xin.parameters))
        return program.depthMaxStep(pooled, axis: d, inDepth: inDepth, output: s, parameters: xin.parameters, node: i)
    }
}

extension AveragePool2d {
    /// fp32 in int8 models (a float island): no int8 kernel yet.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}

extension AdaptiveAveragePool2d {
    /// fp32 in int8 models (a float island): no int8 kernel yet.
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}

extension Op {
    public static func maxPool2d(_ window: PoolAttributes) -> Op { .maxPool2d(MaxPool2d(window)) }
    public static func averagePool2d(_ window: PoolAttributes) -> Op { .averagePool2d(AveragePool2d(window)) }
    public static func adaptiveAveragePool2d(bins: Int) -> Op { .adaptiveAveragePool2d(AdaptiveAveragePool2d(bins: bins)) }
}

extension PoolAttributes {
    /// Training's pooling of a volume, separable like the fp32 executor's (`planVolume`): the 2D pooling of every
    /// input slice, then the max (the first largest, as PyTorch) or mean over the slices each output's depth taps
    /// reach. Max pooling keeps both argmaxes on the tape (`maxPoolIndices`: the in-plane ones, then the chosen
    /// slices).
    func trainingForwardVolume(_ tape: Autograd, node i: Int, output out: inout [Float], max isMax: Bool) throws(GraphError) {
        let node = tape.graph.nodes[i], j = node.inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        let h = window.axis3(1), w = window.axis3(2), d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        if h.kernel != w.kernel || h.stride != w.stride || h.padBegin != w.padBegin {
            throw .shape(node: node.name, "pooling with window \(window.kernel) stride \(window.stride) trains with square in-plane windows only")
        }
        var g = geometry(xs)
        g.batch = 1
        let slices = s.batch * inDepth, plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels
        // One array holds both argmaxes: the in-plane ones of every slice, then the chosen slice of every output.
        var pooled = Autograd.uninitialized(slices * plane), indices = [Int32](repeating: 0, count: isMax ? slices * plane + s.elementCount : 0)
        tape.values[j].withUnsafeBufferPointer { xp in pooled.withUnsafeMutableBufferPointer { pp in indices.withUnsafeMutableBufferPointer { ip in
            let x = xp.baseAddress!, p = pp.baseAddress!, indices = ip.baseAddress
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    if isMax {
                        F32Pooling.maxPool(g, input: x + k * inPlane, output: p + k * plane, indices: indices! + k * plane, rows: 0..<s.height)
                    } else {
                        F32Pooling.averagePool(g, input: x + k * inPlane, output: p + k * plane, rows: 0..<s.height)
                    }
                }
            }
        } } }
        pooled.withUnsafeBufferPointer { pp in out.withUnsafeMutableBufferPointer { op in indices.withUnsafeMutableBufferPointer { cp in
            let p = pp.baseAddress!, o = op.baseAddress!, c = cp.baseAddress.map { $0 + slices * plane }
            ParallelFor.run(count: s.batch * outDepth, threads: tape.threads) { items, _ in
                for item in items {
                    let n = item / outDepth, dst = o + item * plane, taps = VolumeSlices.taps(item % outDepth, d, inDepth: inDepth)
                    for (k, t) in taps.enumerated() {
                        let src = p + (n * inDepth + t.slice) * plane
                        if isMax {
                            let which = c! + item * plane
                            for e in 0..<plane where k == 0 || src[e] > dst[e] { dst[e] = src[e]; which[e] = Int32(t.slice) }
                        } else if k == 0 {
                            dst.update(from: src, count: plane)
                        } else {
                            for e in 0..<plane { dst[e] += src[e] }
                        }
                    }
                    if !isMax && taps.count > 1 {
                        let scale = 1 / Float(taps.count)
                        for e in 0..<plane { dst[e] *= scale }
                    }
                }
            }
        } } }
        if isMax { tape.maxPoolIndices[i] = indices }
    }

    /// The input gradient of `trainingForwardVolume`: dY back through the depth stage, then through each
    /// slice's 2D pooling.
    func backwardVolume(_ tape: Autograd, node i: Int, outputGradient dy: [Float], max isMax: Bool) -> [Float] {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], xs = tape.shapes[j]
        let d = window.axis3(0), inDepth = xs.depth ?? 1, outDepth = s.depth ?? 1
        var g = geometry(xs)
        g.batch = 1
        let slices = s.batch * inDepth, plane = s.height * s.width * s.channels, inPlane = xs.height * xs.width * xs.channels
        let indices = isMax ? tape.takeMaxPoolIndices(ofNode: i) : []
        // Depth stage, per input slice (each sums its readers in output order: the same bits for any thread count).
        var pooledGradient = [Float](repeating: 0, count: slices * plane)
        dy.withUnsafeBufferPointer { dp in pooledGradient.withUnsafeMutableBufferPointer { gp in indices.withUnsafeBufferPointer { ip in
            let dyp = dp.baseAddress!, gpp = gp.baseAddress!, chosen = ip.baseAddress.map { $0 + slices * plane }
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    let n = k / inDepth, iz = k % inDepth, dst = gpp + k * plane
                    for oz in 0..<outDepth {
                        let taps = VolumeSlices.taps(oz, d, inDepth: inDepth)
                        guard taps.contains(where: { $0.slice == iz }) else { continue }
                        let src = dyp + (n * outDepth + oz) * plane
                        if isMax {
                            let which = chosen! + (n * outDepth + oz) * plane
                            for e in 0..<plane where which[e] == Int32(iz) { dst[e] += src[e] }
                        } else {
                            let scale = 1 / Float(taps.count)
                            for e in 0..<plane { dst[e] += src[e] * scale }
                        }
                    }
                }
            }
        } } }
        var dx = Autograd.uninitialized(xs.elementCount)
        pooledGradient.withUnsafeBufferPointer { gp in dx.withUnsafeMutableBufferPointer { xp in indices.withUnsafeBufferPointer { ip in
            let src = gp.baseAddress!, dst = xp.baseAddress!, planeIndices = ip.baseAddress
            ParallelFor.run(count: slices, threads: tape.threads) { items, _ in
                for k in items {
                    if isMax {
                        F32LayerBackward.maxPool(g, outputGradient: src + k * plane, indices: planeIndices! + k * plane, inputGradient: dst + k * inPlane)
                    } else {
                        F32LayerBackward.averagePool(g, outputGradient: src + k * plane, inputGradient: dst + k * inPlane)
                    }
                }
            }
        } } }
        return dx
    }
}
