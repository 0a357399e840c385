import Kernels

/// Randomized checks of the int8 kernels against `Q8Reference`: results must be equal bit for bit
/// (the int8 path's contract, see `Q8Requantization`). Each returns the failures it found.
public enum Q8Checks {
    static let channelCounts = [1, 2, 3, 5, 16, 17, 31, 33, 48]

    static func bytes(_ count: Int, rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func weights(_ count: Int, rng: inout SplitMix64) -> [Int8] {
        (0..<count).map { _ in Int8(truncatingIfNeeded: rng.int(-127...127)) }
    }

    static func randomActivation(_ rng: inout SplitMix64) -> FusedActivation {
        rng.pick([FusedActivation.none, .relu, .leakyRelu(slope: 0.1)])
    }

    /// Multipliers that spread typical sums (random walks of `depth` products of about 128 x 73)
    /// over tens of codes, so that rounding, clamping and the activation are all exercised.
    static func multipliers(_ count: Int, depth: Int, rng: inout SplitMix64) -> [Float] {
        let typicalSum = (Double(max(1, depth))).squareRoot() * 128 * 73
        return (0..<count).map { _ in Float(Double(rng.int(20...120)) / typicalSum) }
    }

    static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        if a.count != b.count { return -1 }
        for i in 0..<a.count where a[i] != b[i] { return i }
        return nil
    }

    /// Int8 convolutions of random geometry, activation, zero points and output target.
    public static func randomizedConv(count: Int, seed: UInt64) -> [String] {
        randomizedConv(count: count, seed: seed, dotProduct: false)
    }

    /// The same convolutions through the dot-product path (`Q8DotMicrokernel`: activations in quads, flipped by
    /// `activationFlip`, weights in quads), which must give the same bits. Runs `sdot` on aarch64 CPUs that have
    /// it, `vpdpbusd` in x86-64 builds for VNNI CPUs, the portable twin of `sdot` elsewhere (the packing and the
    /// flip correction are the same), and nothing on aarch64 CPUs without it.
    public static func randomizedDotConv(count: Int, seed: UInt64) -> [String] {
        #if arch(arm64)
        if !Q8DotMicrokernel.isAvailable { return [] }
        #endif
        return randomizedConv(count: count, seed: seed, dotProduct: true)
    }

    /// Dot-product convolutions without horizontal dilation, which builds with the 512-bit VNNI tile run as an
    /// implicit GEMM (`Q8Conv2dPlan.readsRowsInPlace`): interior pixels' kernel rows read in place (rows of
    /// `kw * cin` bytes that are not whole quads padded with zero weights, so the bytes read past them count
    /// nothing), border pixels gathered. Returns failures, and a failure if such a build did not take that path.
    public static func randomizedInPlaceConv(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        var done = 0
        while done < count {
            let kernel = rng.pick([1, 3, 3, 5]), stride = rng.pick([1, 1, 2])
            var g = Conv2dGeometry(batch: 1, inChannels: rng.pick([1, 3, 4, 5, 8, 12, 16, 20, 32, 36, 64]), inHeight: rng.pick([1, 3, 6, 9, 14]),
                                   inWidth: rng.pick([1, 2, 7, 12, 23]), outChannels: rng.pick([5, 7, 16, 17, 32, 33, 48, 80]),
                                   kernel: kernel, stride: stride, dilation: 1, padding: 0)
            g.dilationY = rng.pick([1, 1, 2])
            let extentY = g.dilationY * (kernel - 1), extentX = kernel - 1
            g.padTop = rng.int(0...extentY); g.padBottom = rng.int(0...extentY)
            g.padLeft = rng.int(0...extentX); g.padRight = rng.int(0...extentX)
            if g.validate() != nil { continue }
            done += 1
            let label = "int8 in-place dot conv seed \(seed) #\(done) \(g)"
            if Q8DotMicrokernel.hasPairTile && Q8DotMicrokernel.activationFlip == 0 {
                let ones = [Int8](repeating: 1, count: g.weightCount)
                let plan = try? ones.withUnsafeBufferPointer { wp throws(ShapeError) in
                    try Q8Conv2dPlan(g, weights: wp.baseAddress!, bias: nil, multipliers: [Float](repeating: 1, count: g.outChannels),
                                     inputZeroPoint: 0, activation: .none, output: .float, dotProduct: true)
                }
                if plan?.readsRowsInPlace != true { failures.append("\(label): did not read rows in place") }
            }
            if let failure = checkConv(g, dotProduct: true, rng: &rng, label: label) { failures.append(failure) }
        }
        return failures
    }

    /// Whether this build multiplies with the x86-64 VNNI instruction (`vpdpbusd`), and if not, why.
    public static var vnniStatus: (compiled: Bool, reason: String) {
        #if arch(x86_64) && SEGRUN_VNNI
        return (true, "vpdpbusd compiled in")
        #elseif arch(x86_64)
        return (false, "this build's target CPU has neither avx512_vnni (with avx512vl) nor avx_vnni")
        #else
        return (false, "not an x86-64 build")
        #endif
    }

    /// Heads with 1-4 output channels (`Q8NarrowConv`) on rows wide enough that whole runs of 16 output pixels have
    /// their windows inside the image (the register-resident path of the VNNI build) as well as at the borders:
    /// 1x1 and 3x3, stride 1 and 2, odd widths, kernel rows of 1 to 240 bytes; both multiply paths.
    public static func narrowHeads(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for n in 0..<14 {
            let kernel = rng.pick([1, 3, 3]), stride = rng.pick([1, 1, 2])
            let g = Conv2dGeometry(batch: 1, inChannels: rng.pick([1, 3, 16, 17, 21, 48, 80]), inHeight: rng.pick([3, 6]),
                                   inWidth: rng.pick([37, 50, 67]), outChannels: rng.pick([1, 1, 2, 4]), kernel: kernel, stride: stride,
                                   padding: kernel / 2)
            for dotProduct in [false, true] {
                let label = "int8 narrow head seed \(seed) #\(n) \(dotProduct ? "dot " : "")\(g)"
                if let failure = checkConv(g, dotProduct: dotProduct, rng: &rng, label: label) { failures.append(failure) }
            }
        }
        return failures
    }

    static func randomizedConv(count: Int, seed: UInt64, dotProduct: Bool) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        var done = 0
        while done < count {
            let kernel = rng.pick([1, 3, 3, 5]), stride = rng.pick([1, 2]), dilation = rng.pick([1, 1, 2])
            var g = Conv2dGeometry(batch: 1, inChannels: rng.pick(channelCounts), inHeight: rng.pick([1, 2, 5, 7, 13]),
                                   inWidth: rng.pick([1, 3, 6, 11, 19]), outChannels: rng.pick(channelCounts),
                                   kernel: kernel, stride: stride, dilation: dilation, padding: 0)
            let extent = dilation * (kernel - 1)
            g.padTop = rng.int(0...extent); g.padBottom = rng.int(0...extent)
            g.padLeft = rng.int(0...extent); g.padRight = rng.int(0...extent)
            if g.validate() != nil { continue }
            done += 1
            let label = "int8 \(dotProduct ? "dot " : "")conv seed \(seed) #\(done) \(g)"
            if let failure = checkConv(g, dotProduct: dotProduct, rng: &rng, label: label) { failures.append(failure) }
        }
        return failures
    }

    /// Exact int8 Winograd (F(2x2, 3x3) or F(4x4, 3x3)) against the direct reference: 3x3 stride 1, random
    /// padding, odd sizes (partial tiles) and channel counts around the 16-lane transform width.
    public static func randomizedWinograd(count: Int, seed: UInt64, tile: Q8WinogradTile = .f2) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        var done = 0
        let name = tile == .f2 ? "int8 winograd" : "int8 winograd f4"
        while done < count {
            var g = Conv2dGeometry(batch: 1, inChannels: rng.pick(channelCounts), inHeight: rng.pick([1, 2, 3, 5, 8, 13]),
                                   inWidth: rng.pick([1, 3, 4, 7, 11, 19]), outChannels: rng.pick(channelCounts), kernel: 3, padding: 0)
            if tile == .f4 { g.inHeight += rng.pick([0, 0, 4, 9]); g.inWidth += rng.pick([0, 6, 10]) }
            g.padTop = rng.int(0...2); g.padBottom = rng.int(0...2); g.padLeft = rng.int(0...2); g.padRight = rng.int(0...2)
            if g.validate() != nil { continue }
            done += 1
            if let failure = checkConv(g, winograd: tile, rng: &rng, label: "\(name) seed \(seed) #\(done) \(g)") {
                failures.append(failure)
            }
            // F(4x4, 3x3) transforming its weights per run, where the layer has few enough tiles.
            if tile == .f4 && Q8WinogradPlan.supportsWeightsPerRun(g),
               let failure = checkConv(g, winograd: tile, weightsPerRun: true, rng: &rng, label: "\(name) per run seed \(seed) #\(done) \(g)") {
                failures.append(failure)
            }
        }
        // F(4x4, 3x3) over several depth groups: random full-range weights on 460-620 input channels exceed the
        // exactness bound (mean |w| near 64), so the depth is cut in two or three groups, partial tiles included.
        if tile == .f4 {
            for i in 0..<3 {
                var g = Conv2dGeometry(batch: 1, inChannels: rng.int(460...620), inHeight: rng.pick([3, 5, 6]), inWidth: rng.pick([4, 7, 9]),
                                       outChannels: rng.pick([3, 17, 33]), kernel: 3, padding: 0)
                g.padTop = rng.int(0...2); g.padBottom = rng.int(0...2); g.padLeft = rng.int(0...2); g.padRight = rng.int(0...2)
                if g.validate() != nil { continue }
                if let failure = checkConv(g, winograd: tile, weightsPerRun: i == 2, rng: &rng, label: "\(name) depth groups seed \(seed) #\(i) \(g)") {
                    failures.append(failure)
                }
            }
        }
        // Extremes: every input 255 (or 0) against weights of +-127 stress the Int16 transforms and Int32 sums.
        // F(4x4, 3x3) is exact up to 128 * sum|w| < 2^25: 229 channels of 127s are just inside (|y| up to 33.50
        // million, 2^25 = 33.55 million), one depth group; 230 need two groups, 700 four; 1000 (five) are refused.
        for inChannels in tile == .f2 ? [1024] : [229, 230, 700] {
        for (x, w, perRun) in [(UInt8(255), Int8(127), false), (UInt8(255), Int8(-127), false), (UInt8(0), Int8(127), false),
                               (UInt8(0), Int8(-127), false), (UInt8(255), Int8(127), true), (UInt8(0), Int8(-127), true)]
        where !perRun || tile == .f4 {
            let g = Conv2dGeometry(inChannels: inChannels, inHeight: 5, inWidth: 6, outChannels: 3, kernel: 3, padding: 1)
            let input = [UInt8](repeating: x, count: g.inputShape.elementsPerImage)
            let weights = [Int8](repeating: w, count: 3 * inChannels * 9)
            let m = [Float](repeating: 1 / 4_000_000, count: 3)
            let target = Q8OutputTarget.float
            guard let plan = try? weights.withUnsafeBufferPointer({ wp throws(ShapeError) in
                try Q8WinogradPlan(g, weights: wp.baseAddress!, bias: nil, multipliers: m, inputZeroPoint: 7, activation: .none,
                                   output: target, tile: tile, weightsPerRun: perRun,
                                   depthGroups: Q8WinogradPlan.f4DepthGroups(weights: wp.baseAddress!, inChannels: inChannels, outChannels: 3))
            }) else { failures.append("\(name) extreme: plan failed"); continue }
            let ref = Q8Reference.conv2d(g, input: input, inputZeroPoint: 7, weights: weights, bias: nil, multipliers: m, activation: .none, output: target)
            let got = run(g.outputShape.elementsPerImage, target, scratch: plan.scratchBytes) { out, scratch in
                input.withUnsafeBufferPointer { plan.run(input: $0.baseAddress!, output: out, items: 0..<plan.workItems, scratch: scratch) }
            }
            if let f = compareOutputs(got, ref, target, "\(name) extreme \(inChannels) channels x=\(x) w=\(w)\(perRun ? " per run" : "")") {
                failures.append(f)
            }
        }
        }
        if tile == .f4 {
            let over = [Int8](repeating: 127, count: 2 * 1000 * 9)
            let groups = over.withUnsafeBufferPointer { Q8WinogradPlan.f4DepthGroups(weights: $0.baseAddress!, inChannels: 1000, outChannels: 2) }
            let refused = over.withUnsafeBufferPointer { wp in
                (try? Q8WinogradPlan(Conv2dGeometry(inChannels: 1000, inHeight: 5, inWidth: 5, outChannels: 2, kernel: 3, padding: 1),
                                     weights: wp.baseAddress!, bias: nil, multipliers: [1, 1], inputZeroPoint: 0, activation: .none,
                                     output: .float, tile: .f4, depthGroups: groups)) == nil
                    && (try? Q8WinogradPlan(Conv2dGeometry(inChannels: 1000, inHeight: 5, inWidth: 5, outChannels: 2, kernel: 3, padding: 1),
                                            weights: wp.baseAddress!, bias: nil, multipliers: [1, 1], inputZeroPoint: 0, activation: .none,
                                            output: .float, tile: .f4)) == nil
            }
            if groups.count != 5 || !refused {
                failures.append("int8 winograd f4: 1000 channels of 127s need 5 depth groups (got \(groups.count)) and must be refused (\(refused))")
            }
        }
        return failures
    }

    static func checkConv(_ g: Conv2dGeometry, winograd: Q8WinogradTile? = nil, weightsPerRun: Bool = false, dotProduct: Bool = false,
                          rng: inout SplitMix64, label: String) -> String? {
        let input = bytes(g.inputShape.elementsPerImage, rng: &rng)
        let w = weights(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, rng: &rng)
        let bias: [Int32]? = rng.int(0...3) == 0 ? nil : (0..<g.outChannels).map { _ in Int32(rng.int(-5000...5000)) }
        let zx = UInt8(rng.pick([0, 0, 3, 128, 255]))
        let m = multipliers(g.outChannels, depth: g.inChannels * g.kernelHeight * g.kernelWidth, rng: &rng)
        let activation = randomActivation(&rng)
        let target: Q8OutputTarget = rng.int(0...3) == 0 ? .float : .quantized(zeroPoint: Int32(rng.pick([0, 7, 128])))
        let outCount = g.outputShape.elementsPerImage
        let ref = Q8Reference.conv2d(g, input: input, inputZeroPoint: zx, weights: w, bias: bias, multipliers: m,
                                     activation: activation, output: target)
        let got: (q: [UInt8], f: [Float])
        do {
            if let tile = winograd {
                let plan = try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                    try withOptional(bias) { bp throws(ShapeError) in
                        try Q8WinogradPlan(g, weights: wp.baseAddress!, bias: bp, multipliers: m, inputZeroPoint: zx,
                                           activation: activation, output: target, tile: tile, weightsPerRun: weightsPerRun,
                                           depthGroups: Q8WinogradPlan.f4DepthGroups(weights: wp.baseAddress!, inChannels: g.inChannels,
                                                                                     outChannels: g.outChannels))
                    }
                }
                plan.columnGroups = rng.int(1...3)
                got = run(outCount, target, scratch: plan.scratchBytes) { out, scratch in
                    input.withUnsafeBufferPointer { plan.run(input: $0.baseAddress!, output: out, items: 0..<plan.workItems, scratch: scratch) }
                }
            } else {
                let plan = try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                    try withOptional(bias) { bp throws(ShapeError) in
                        try Q8Conv2dPlan(g, weights: wp.baseAddress!, bias: bp, multipliers: m, inputZeroPoint: zx,
                                         activation: activation, output: target, dotProduct: dotProduct)
                    }
                }
                plan.columnGroups = rng.int(1...3)
                got = run(outCount, target, scratch: plan.scratchBytes) { out, scratch in
                    input.withUnsafeBufferPointer { plan.run(input: $0.baseAddress!, output: out, items: 0..<plan.workItems, scratch: scratch) }
                }
            }
        } catch { return "\(label): plan failed: \(error)" }
        return compareOutputs(got, ref, target, label)
    }

    /// Int8 transposed convolutions (kernel == stride 2 or 3) of random size; every other one through the
    /// dot-product path (where this CPU runs it, or its portable twin on x86-64 builds without VNNI).
    public static func randomizedConvTranspose(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        #if arch(arm64)
        let dotUsable = Q8DotMicrokernel.isAvailable
        #else
        let dotUsable = true
        #endif
        for i in 0..<count {
            let dotProduct = dotUsable && i % 2 == 1
            let k = rng.pick([2, 2, 3])
            // Whole quads of input channels (32, 64) and rows longer than a tile exercise the VNNI path that reads
            // pixels in place, with tiles across input rows and taps within and across column blocks.
            let g = ConvTranspose2dGeometry(inChannels: rng.pick(channelCounts + [32, 64]), inHeight: rng.pick([1, 2, 5, 9]),
                                            inWidth: rng.pick([1, 3, 4, 7, 13]), outChannels: rng.pick(channelCounts + [32]),
                                            kernel: k, stride: k)
            let label = "int8 \(dotProduct ? "dot " : "")conv-transpose seed \(seed) #\(i) \(g)"
            let input = bytes(g.inChannels * g.inHeight * g.inWidth, rng: &rng)
            let w = weights(g.inChannels * g.outChannels * k * k, rng: &rng)
            let bias: [Int32] = (0..<g.outChannels).map { _ in Int32(rng.int(-3000...3000)) }
            let zx = UInt8(rng.pick([0, 9, 200]))
            let m = multipliers(g.outChannels, depth: g.inChannels, rng: &rng)
            let activation = randomActivation(&rng)
            let target: Q8OutputTarget = rng.int(0...3) == 0 ? .float : .quantized(zeroPoint: Int32(rng.pick([0, 100])))
            let plan: Q8ConvTransposePlan
            do {
                plan = try w.withUnsafeBufferPointer { wp throws(ShapeError) in
                    try bias.withUnsafeBufferPointer { bp throws(ShapeError) in
                        try Q8ConvTransposePlan(g, weights: wp.baseAddress!, bias: bp.baseAddress!, multipliers: m,
                                                inputZeroPoint: zx, activation: activation, output: target, dotProduct: dotProduct)
                    }
                }
            } catch { failures.append("\(label): plan failed: \(error)"); continue }
            plan.columnGroups = rng.int(1...3)
            let ref = Q8Reference.convTranspose2d(g, input: input, inputZeroPoint: zx, weights: w, bias: bias, multipliers: m,
                                                  activation: activation, output: target)
            let got = run(g.outHeight * g.outWidth * g.outChannels, target, scratch: plan.scratchBytes) { out, scratch in
                input.withUnsafeBufferPointer { plan.run(input: $0.baseAddress!, output: out, items: 0..<plan.workItems, scratch: scratch) }
            }
            if let failure = compareOutputs(got, ref, target, label) { failures.append(failure) }
        }
        return failures
    }

    /// Max pooling against its reference, and requantization/add/quantize against their scalar specs
    /// at the extremes (zero points 0 and 255, collapsed scales).
    public static func layers(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for i in 0..<12 {
            let g = Pool2dGeometry(channels: rng.pick(channelCounts), inHeight: rng.pick([2, 5, 8]), inWidth: rng.pick([2, 3, 7]),
                                   kernel: rng.pick([2, 3]), stride: rng.pick([1, 2]), padding: rng.pick([0, 1]))
            if g.validate() != nil { continue }
            let input = bytes(g.inHeight * g.inWidth * g.channels, rng: &rng)
            var out = [UInt8](repeating: 0, count: g.outHeight * g.outWidth * g.channels)
            input.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { Q8Resampling.maxPool(g, input: src.baseAddress!, output: $0.baseAddress!, rows: 0..<g.outHeight) }
            }
            if let d = firstDifference(out, Q8Reference.maxPool(g, input: input)) { failures.append("int8 max pool #\(i) \(g): differs at \(d)") }
        }
        // The 2x2 stride-2 path (whole groups of 16 channels), odd sizes included.
        for i in 0..<6 {
            let g = Pool2dGeometry(channels: rng.pick([16, 32, 48]), inHeight: rng.pick([2, 5, 8]), inWidth: rng.pick([2, 7, 12]),
                                   kernel: 2, stride: 2, padding: 0)
            let input = bytes(g.inHeight * g.inWidth * g.channels, rng: &rng)
            var out = [UInt8](repeating: 0xA5, count: g.outHeight * g.outWidth * g.channels)
            input.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { Q8Resampling.maxPool(g, input: src.baseAddress!, output: $0.baseAddress!, rows: 0..<g.outHeight) }
            }
            if let d = firstDifference(out, Q8Reference.maxPool(g, input: input)) { failures.append("int8 2x2 max pool #\(i) \(g): differs at \(d)") }
        }
        // Quantize/dequantize round trip: every code maps back to itself.
        for p in [Q8TensorParameters(low: -1, high: 3), Q8TensorParameters(low: 0, high: 6), Q8TensorParameters(low: -2, high: 0),
                  Q8TensorParameters(low: 5, high: 5)] {
            for q in 0...255 {
                let x = Q8Requantization.dequantize(UInt8(q), scale: p.scale, zeroPoint: p.zeroPoint)
                let back = Q8Requantization.quantize(x, inverseScale: p.inverseScale, zeroPoint: p.zeroPoint)
                if back != UInt8(q) { failures.append("quantize round trip \(p): \(q) -> \(x) -> \(back)"); break }
            }
        }
        if Q8Requantization.quantize(.nan, inverseScale: 1, zeroPoint: 7) != 7 { failures.append("quantize(NaN) is not the zero point") }
        if Q8Requantization.quantize(.infinity, inverseScale: 1, zeroPoint: 7) != 255 { failures.append("quantize(+inf) does not saturate") }
        // Vector and scalar requantization agree on random sums, including exact .5 ties.
        for _ in 0..<2000 {
            let accs = SIMD8<Int32>((0..<8).map { _ in Int32(rng.int(-200_000...200_000)) })
            let m = SIMD8<Float>((0..<8).map { _ in Float(rng.int(1...1000)) / 1e5 })
            let zp = Int32(rng.pick([0, 1, 128, 255]))
            let act = randomActivation(&rng)
            let v = Q8Requantization.requantize(accs, multiplier: m, activation: act, zeroPoint: zp)
            for l in 0..<8 where v[l] != Q8Requantization.requantize(accs[l], multiplier: m[l], activation: act, zeroPoint: zp) {
                failures.append("vector requantization lane \(l) differs for sum \(accs[l]) x \(m[l])")
            }
        }
        if Q8Requantization.requantize(5, multiplier: 0.5, activation: .none, zeroPoint: 0) != 2 { failures.append("2.5 does not round to even") }
        if Q8Requantization.requantize(7, multiplier: 0.5, activation: .none, zeroPoint: 0) != 4 { failures.append("3.5 does not round to even") }
        return failures
    }

    /// The vectorized range loops of `Q8Elementwise` (quantize, dequantize, requantize, add, concat) against
    /// their scalar specs, bit for bit: random lengths and offsets (so both the 8-lane body and the scalar
    /// tail run), every activation, zero points at the ends of the range, NaN, infinities and exact .5 ties.
    /// Outputs start poisoned (0xFF), so an unwritten element shows.
    public static func elementwise(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        func parameters() -> Q8TensorParameters {
            Q8TensorParameters(scale: Float(rng.int(1...4000)) / 1e4, zeroPoint: Int32(rng.pick([0, 1, 77, 128, 254, 255])))
        }
        for trial in 0..<60 {
            let n = rng.int(1...75), start = rng.int(0...9), end = start + n
            let p = parameters(), po = parameters(), pb = parameters()
            let act = randomActivation(&rng)
            let a = bytes(end, rng: &rng), b = bytes(end, rng: &rng)
            var floats = (0..<end).map { _ in Float(rng.int(-3000...3000)) / 100 }
            // Specials and ties: NaN, infinities, and values that land on k + 0.5 after scaling.
            floats[0] = .nan
            if end > 3 { floats[3] = .infinity }
            if end > 7 { floats[7] = -.infinity }
            if end > 9 { floats[9] = (Float(rng.int(-100...100)) + 0.5) * p.scale }
            var q = [UInt8](repeating: 0xFF, count: end), f = [Float](repeating: .nan, count: end)
            q.withUnsafeMutableBufferPointer { Q8Elementwise.quantize(floats, p, output: $0.baseAddress!, range: start..<end) }
            for i in start..<end where q[i] != Q8Requantization.quantize(floats[i], inverseScale: p.inverseScale, zeroPoint: p.zeroPoint) {
                failures.append("int8 quantize #\(trial) differs at \(i) (\(floats[i]), \(p))"); break
            }
            f.withUnsafeMutableBufferPointer { Q8Elementwise.dequantize(a, p, output: $0.baseAddress!, range: start..<end) }
            for i in start..<end where f[i].bitPattern != Q8Requantization.dequantize(a[i], scale: p.scale, zeroPoint: p.zeroPoint).bitPattern {
                failures.append("int8 dequantize #\(trial) differs at \(i)"); break
            }
            q = [UInt8](repeating: 0xFF, count: end)
            q.withUnsafeMutableBufferPointer { Q8Elementwise.requantize(a, from: p, output: $0.baseAddress!, to: po, range: start..<end) }
            for i in start..<end where q[i] != Q8Elementwise.requantize(a[i], from: p, to: po) {
                failures.append("int8 requantize #\(trial) differs at \(i)"); break
            }
            q = [UInt8](repeating: 0xFF, count: end)
            q.withUnsafeMutableBufferPointer { Q8Elementwise.add(a, p, b, pb, output: $0.baseAddress!, po, activation: act, range: start..<end) }
            for i in start..<end where q[i] != Q8Elementwise.addOne(a[i], p, b[i], pb, po, act) {
                failures.append("int8 add #\(trial) differs at \(i)"); break
            }
            // Concat of pixels: a part in the output's parameters (copied; whole groups of 16 channels as vectors) and
            // one in others (requantized).
            let c1 = trial % 2 == 0 ? rng.pick([16, 32, 48]) : rng.int(1...19), c2 = rng.int(1...19), pixels = rng.int(1...5)
            let x1 = bytes(pixels * c1, rng: &rng), x2 = bytes(pixels * c2, rng: &rng)
            var out = [UInt8](repeating: 0xFF, count: pixels * (c1 + c2))
            x1.withUnsafeBufferPointer { s1 in
                x2.withUnsafeBufferPointer { s2 in
                    out.withUnsafeMutableBufferPointer {
                        Q8Elementwise.concat([(s1.baseAddress!, c1, po), (s2.baseAddress!, c2, p)], output: $0.baseAddress!, po, pixels: 0..<pixels)
                    }
                }
            }
            concat: for px in 0..<pixels {
                for ch in 0..<(c1 + c2) {
                    let expected = ch < c1 ? x1[px * c1 + ch] : Q8Elementwise.requantize(x2[px * c2 + ch - c1], from: p, to: po)
                    if out[px * (c1 + c2) + ch] != expected { failures.append("int8 concat #\(trial) differs at pixel \(px) channel \(ch)"); break concat }
                }
            }
        }
        return failures
    }

    static func run(_ count: Int, _ target: Q8OutputTarget, scratch: Int,
                    _ body: (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Void) -> (q: [UInt8], f: [Float]) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count * 4) + 64, alignment: 64)
        let scratchMemory = UnsafeMutableRawPointer.allocate(byteCount: scratch, alignment: 64)
        defer { raw.deallocate(); scratchMemory.deallocate() }
        // Poison: 0xFF bytes are NaN floats and 255 codes, so unwritten outputs show.
        raw.initializeMemory(as: UInt8.self, repeating: 0xFF, count: max(1, count * 4) + 64)
        // The scratch too: a kernel that reads scratch it did not write multiplies these bytes.
        scratchMemory.initializeMemory(as: UInt8.self, repeating: 0xA5, count: scratch)
        body(raw, scratchMemory)
        switch target {
        case .quantized:
            return (Array(UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: count)), [])
        case .float:
            return ([], Array(UnsafeBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: count)))
        }
    }

    static func compareOutputs(_ got: (q: [UInt8], f: [Float]), _ ref: (q: [UInt8], f: [Float]), _ target: Q8OutputTarget,
                               _ label: String) -> String? {
        switch target {
        case .quantized:
            if let d = firstDifference(got.q, ref.q) { return "\(label): element \(d) is \(d >= 0 ? got.q[d] : 0), reference \(d >= 0 ? ref.q[d] : 0)" }
            // Guard against a degenerate test: outputs must spread over many codes.
            if ref.q.count >= 512 && Set(ref.q).count < 8 { return "\(label): degenerate test, only \(Set(ref.q).count) distinct outputs" }
        case .float:
            for i in 0..<ref.f.count where got.f[i].bitPattern != ref.f[i].bitPattern {
                return "\(label): float element \(i) is \(got.f[i]), reference \(ref.f[i])"
            }
        }
        return nil
    }

    static func withOptional<R, E: Error>(_ array: [Int32]?, _ body: (UnsafePointer<Int32>?) throws(E) -> R) throws(E) -> R {
        guard let array else { return try body(nil) }
        let result: Result<R, E> = array.withUnsafeBufferPointer { p in
            do throws(E) { return .success(try body(p.baseAddress!)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
