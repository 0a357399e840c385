import Kernels

/// Randomized checks of the layer kernels against `LayerReference`, on odd and non-square shapes.
public enum LayerChecks {
    static func randomShape(_ rng: inout SplitMix64, minSize: Int = 1) -> ImageShape {
        ImageShape(batch: rng.int(1...2), channels: rng.pick(ConvChecks.channelCounts),
                   height: rng.int(minSize...13), width: rng.int(minSize...17))
    }

    public static func pooling(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for i in 0..<count {
            let s = randomShape(&rng, minSize: 2)
            let kernel = rng.pick([2, 3]), stride = rng.pick([1, 2])
            let g = Pool2dGeometry(batch: s.batch, channels: s.channels, inHeight: s.height, inWidth: s.width,
                                   kernel: kernel, stride: stride, padding: rng.int(0...(kernel / 2)))
            if g.validate() != nil { continue }
            let x = rng.floats(s.elementCount)
            let label = "pool #\(i) seed \(seed) \(s) k\(g.kernel) s\(g.stride) p\(g.padding)"
            var out = poisoned(g.outputShape.elementCount)
            var indices = [Int32](repeating: -7, count: out.count)
            out.withUnsafeMutableBufferPointer { o in
                indices.withUnsafeMutableBufferPointer { idx in
                    for n in 0..<g.batch {
                        F32Pooling.maxPool(g, input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                           output: o.baseAddress! + n * g.outputShape.elementsPerImage,
                                           indices: idx.baseAddress! + n * g.outputShape.elementsPerImage, rows: 0..<g.outHeight)
                    }
                }
            }
            let ref = LayerReference.maxPool(g, x)
            if let f = out.withUnsafeBufferPointer({ compare($0, ref.values, rtol: 0, label: "max " + label) }) { failures.append(f) }
            if indices != ref.indices { failures.append("max indices " + label) }
            // Without indices (inference): the vector path of 16 channels at a time, then the rest.
            out = poisoned(out.count)
            out.withUnsafeMutableBufferPointer { o in
                for n in 0..<g.batch {
                    F32Pooling.maxPool(g, input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                       output: o.baseAddress! + n * g.outputShape.elementsPerImage, indices: nil, rows: 0..<g.outHeight)
                }
            }
            if let f = out.withUnsafeBufferPointer({ compare($0, ref.values, rtol: 0, label: "max without indices " + label) }) { failures.append(f) }
            out = poisoned(out.count)
            out.withUnsafeMutableBufferPointer { o in
                for n in 0..<g.batch {
                    F32Pooling.averagePool(g, input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                           output: o.baseAddress! + n * g.outputShape.elementsPerImage, rows: 0..<g.outHeight)
                }
            }
            if let f = out.withUnsafeBufferPointer({ compare($0, LayerReference.averagePool(g, x), rtol: Tolerances.elementwise, label: "avg " + label) }) {
                failures.append(f)
            }
            for bins in [1, 2, 3, 6] {
                var a = poisoned(s.batch * bins * bins * s.channels)
                a.withUnsafeMutableBufferPointer { o in
                    for n in 0..<s.batch {
                        F32Pooling.adaptiveAveragePool(s, outHeight: bins, outWidth: bins,
                                                       input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                                       output: o.baseAddress! + n * bins * bins * s.channels)
                    }
                }
                let ref = LayerReference.adaptiveAveragePool(s, outHeight: bins, outWidth: bins, x)
                if let f = a.withUnsafeBufferPointer({ compare($0, ref, rtol: Tolerances.elementwise, label: "adaptive \(bins) " + label) }) {
                    failures.append(f)
                }
            }
        }
        return failures
    }

    public static func upsampling(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for i in 0..<count {
            let s = randomShape(&rng)
            let oh = rng.pick([1, s.height, 2 * s.height, rng.int(1...31)]), ow = rng.pick([1, s.width, 2 * s.width, rng.int(1...31)])
            let x = rng.floats(s.elementCount)
            for align in [false, true] {
                var out = poisoned(s.batch * oh * ow * s.channels)
                out.withUnsafeMutableBufferPointer { o in
                    for n in 0..<s.batch {
                        F32Upsample.bilinear(s, outHeight: oh, outWidth: ow, alignCorners: align,
                                             input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                             output: o.baseAddress! + n * oh * ow * s.channels, rows: 0..<oh)
                    }
                }
                let ref = LayerReference.bilinear(s, outHeight: oh, outWidth: ow, alignCorners: align, x)
                if let f = out.withUnsafeBufferPointer({ compare($0, ref, rtol: Tolerances.elementwise,
                                                                 label: "bilinear #\(i) seed \(seed) \(s) -> \(oh)x\(ow) align \(align)") }) {
                    failures.append(f)
                }
            }
            var out = poisoned(s.batch * oh * ow * s.channels)
            out.withUnsafeMutableBufferPointer { o in
                for n in 0..<s.batch {
                    F32Upsample.nearest(s, outHeight: oh, outWidth: ow,
                                        input: x.withUnsafeBufferPointer { $0.baseAddress! } + n * s.elementsPerImage,
                                        output: o.baseAddress! + n * oh * ow * s.channels, rows: 0..<oh)
                }
            }
            if let f = out.withUnsafeBufferPointer({ compare($0, LayerReference.nearest(s, outHeight: oh, outWidth: ow, x), rtol: 0,
                                                             label: "nearest #\(i) seed \(seed) \(s) -> \(oh)x\(ow)") }) {
                failures.append(f)
            }
        }
        return failures
    }

    public static func elementwise(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        func check(_ out: [Float], _ ref: [Double], _ rtol: Double, _ label: String) {
            if let f = out.withUnsafeBufferPointer({ compare($0, ref, rtol: rtol, label: label + " seed \(seed)") }) { failures.append(f) }
        }
        for i in 0..<count {
            let s = randomShape(&rng)
            let pixels = s.batch * s.pixelsPerImage, c = s.channels, n = s.elementCount
            let a = rng.floats(n, scale: 4), b = rng.floats(n, scale: 4)
            let perChannel = rng.floats(c), perChannel2 = rng.floats(c), gate = rng.floats(pixels)
            var out = poisoned(n)
            // add with fused activations
            for act in [FusedActivation.none, .relu, .leakyRelu(slope: 0.2)] {
                out = poisoned(n)
                F32Elementwise.add(a, b, output: &out, range: 0..<n, activation: act)
                check(out, (0..<n).map { act.apply(Double(a[$0]) + Double(b[$0])) }, Tolerances.elementwise, "add \(act) #\(i) \(s)")
            }
            out = poisoned(n)
            F32Elementwise.multiply(a, b, output: &out, range: 0..<n)
            check(out, (0..<n).map { Double(a[$0]) * Double(b[$0]) }, Tolerances.elementwise, "mul #\(i) \(s)")
            out = poisoned(n)
            F32Elementwise.multiplyByChannel(a, scale: perChannel, channels: c, output: &out, pixels: 0..<pixels)
            check(out, (0..<n).map { Double(a[$0]) * Double(perChannel[$0 % c]) }, Tolerances.elementwise, "mul channel #\(i) \(s)")
            out = poisoned(n)
            F32Elementwise.multiplyBySpatial(a, gate: gate, channels: c, output: &out, pixels: 0..<pixels)
            check(out, (0..<n).map { Double(a[$0]) * Double(gate[$0 / c]) }, Tolerances.elementwise, "mul spatial #\(i) \(s)")
            out = poisoned(n)
            F32Elementwise.channelAffine(a, scale: perChannel, shift: perChannel2, channels: c, output: &out, pixels: 0..<pixels,
                                         activation: .relu)
            check(out, (0..<n).map { max(0, Double(a[$0]) * Double(perChannel[$0 % c]) + Double(perChannel2[$0 % c])) },
                  Tolerances.elementwise, "batchnorm #\(i) \(s)")
            // concat of two or three inputs
            let c2 = rng.pick(ConvChecks.channelCounts)
            let extra = rng.floats(pixels * c2)
            out = poisoned(pixels * (c + c2))
            out.withUnsafeMutableBufferPointer { o in
                a.withUnsafeBufferPointer { pa in extra.withUnsafeBufferPointer { pe in
                    F32Elementwise.concatChannels([(pa.baseAddress!, c), (pe.baseAddress!, c2)], output: o.baseAddress!, pixels: 0..<pixels)
                } }
            }
            var ref: [Double] = []
            for p in 0..<pixels {
                for ch in 0..<c { ref.append(Double(a[p * c + ch])) }
                for ch in 0..<c2 { ref.append(Double(extra[p * c2 + ch])) }
            }
            check(out, ref, 0, "concat #\(i) \(s) + \(c2)")
            // activations
            out = poisoned(n)
            F32Activations.relu(a, output: &out, range: 0..<n)
            check(out, a.map { max(0, Double($0)) }, 0, "relu #\(i)")
            out = poisoned(n)
            F32Activations.leakyRelu(a, slope: 0.01, output: &out, range: 0..<n)
            check(out, a.map { $0 < 0 ? Double($0) * Double(Float(0.01)) : Double($0) }, Tolerances.elementwise, "leaky #\(i)")
            out = poisoned(n)
            F32Activations.prelu(a, slopes: perChannel, channels: c, output: &out, pixels: 0..<pixels)
            check(out, (0..<n).map { a[$0] < 0 ? Double(a[$0]) * Double(perChannel[$0 % c]) : Double(a[$0]) }, Tolerances.elementwise, "prelu #\(i)")
            out = poisoned(n)
            F32Activations.elu(a, alpha: 1, output: &out, range: 0..<n)
            check(out, a.map { LayerReference.elu(Double($0), alpha: 1) }, Tolerances.transcendental, "elu #\(i)")
            out = poisoned(n)
            F32Activations.sigmoid(a, output: &out, range: 0..<n)
            check(out, a.map { LayerReference.sigmoid(Double($0)) }, Tolerances.transcendental, "sigmoid #\(i)")
            out = poisoned(n)
            F32Elementwise.softmaxChannels(a, channels: c, output: &out, pixels: 0..<pixels)
            check(out, LayerReference.softmaxChannels(a, pixels: pixels, channels: c), Tolerances.transcendental, "softmax #\(i) \(s)")
        }
        return failures
    }

    /// `Exp.float` against the Float64 reference over [-100, 88], including extreme arguments.
    public static func exponential(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var worst = 0.0, at: Float = 0
        var xs: [Float] = [0, -0.0, 1, -1, 88.7, -87, -100, 1e-8, -1e-8]
        for _ in 0..<20_000 { xs.append(Float.random(in: -100...88.7, using: &rng)) }
        for x in xs {
            let got = Double(Exp.float(x)), ref = LayerReference.exp64(Double(x))
            if ref < 1e-37 { continue }  // subnormal results: only flush-to-zero-level accuracy is promised
            let rel = abs(got - ref) / ref
            if rel > worst { worst = rel; at = x }
        }
        var failures: [String] = []
        if worst > 3e-7 { failures.append("Exp.float relative error \(worst) at x = \(at) (seed \(seed))") }
        if Exp.float(-200) != 0 || Exp.float(200) != .infinity || !Exp.float(.nan).isNaN { failures.append("Exp.float saturation") }
        if Exp.sigmoid(-200) != 0 || Exp.sigmoid(200) != 1 { failures.append("sigmoid saturation") }
        return failures
    }
}

/// Randomized checks of the transposed convolutions against `ConvReference.convTranspose2d`.
public enum ConvTransposeChecks {
    public static func randomized(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for i in 0..<count {
            let upStep = i % 2 == 0
            var g = ConvTranspose2dGeometry(batch: rng.int(1...2), inChannels: rng.pick(ConvChecks.channelCounts),
                                            inHeight: rng.int(1...9), inWidth: rng.int(1...11),
                                            outChannels: rng.pick(ConvChecks.channelCounts),
                                            kernel: upStep ? 2 : rng.pick([1, 2, 3, 4, 5]), stride: upStep ? 2 : rng.pick([1, 2, 3]))
            if !upStep {
                g.dilationY = rng.pick([1, 2]); g.dilationX = g.dilationY
                g.padTop = rng.int(0...1); g.padBottom = rng.int(0...1); g.padLeft = rng.int(0...1); g.padRight = rng.int(0...1)
                g.outputPaddingY = rng.int(0...(g.strideY - 1)); g.outputPaddingX = rng.int(0...(g.strideX - 1))
            }
            if g.validate() != nil { continue }
            let x = rng.floats(g.inputShape.elementCount), w = rng.floats(g.weightCount), b = rng.floats(g.outChannels)
            let act: FusedActivation = rng.pick([.none, .relu])
            var out = poisoned(g.outputShape.elementCount)
            do {
                let plan = try F32ConvTranspose.Plan(g, weights: w, bias: b, activation: act)
                out.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: x, output: $0.baseAddress!) }
            } catch {
                failures.append("convT #\(i) plan failed: \(error)")
                continue
            }
            let ref = ConvReference.convTranspose2d(g, input: x, weights: w, bias: b, activation: act)
            if let f = out.withUnsafeBufferPointer({ compare($0, ref, rtol: Tolerances.direct, label: "convT #\(i) seed \(seed) \(g)") }) {
                failures.append(f)
            }
        }
        return failures
    }
}
