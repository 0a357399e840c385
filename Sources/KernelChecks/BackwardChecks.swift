import Kernels

/// Checks of the backward kernels: each optimized kernel against its Float64 twin, and each twin
/// against finite differences of the forward reference (`L = sum(r * f(x))` for a random `r`, so
/// `dL/dx` is the backward pass of `r`).
public enum BackwardChecks {
    /// Convolution weight and bias gradients (`F32ConvWeightGradient`) and the input gradient (the
    /// transposed convolution with the same weights), on random shapes, strides, dilations and paddings.
    public static func convolution(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for _ in 0..<count {
            let g = ConvChecks.randomGeometry(.igemm, rng: &rng)
            let x = rng.floats(g.inputShape.elementCount), w = rng.floats(g.weightCount)
            let dy = rng.floats(g.outputShape.elementCount)
            let label = "seed \(seed) \(g)"
            let (refW, refB) = x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer {
                BackwardReference.convWeightGradient(g, input: xp.baseAddress!, outputGradient: $0.baseAddress!) } }
            guard let plan = try? F32ConvWeightGradient.Plan(g) else { failures.append("\(label): no plan"); continue }
            var dw = poisoned(g.weightCount), db = poisoned(g.outChannels)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
                dw.withUnsafeMutableBufferPointer { wp in db.withUnsafeMutableBufferPointer { bp in
                    plan.runSingleThreaded(input: xp.baseAddress!, outputGradient: dp.baseAddress!,
                                           weightGradient: wp.baseAddress!, biasGradient: bp.baseAddress!)
                } }
            } }
            if let f = dw.withUnsafeBufferPointer({ compare($0, refW, rtol: Tolerances.weightGradient, label: label + " dW") }) { failures.append(f) }
            if let f = db.withUnsafeBufferPointer({ compare($0, refB, rtol: Tolerances.weightGradient, label: label + " db") }) { failures.append(f) }

            // Input gradient: the transposed convolution of dy with the same weights (IOHW = the conv's OIHW).
            let t = ConvTranspose2dGeometry(adjointOf: g)
            let refX = w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer {
                BackwardReference.convInputGradient(g, weights: wp.baseAddress!, outputGradient: $0.baseAddress!) } }
            let tplan: F32ConvTranspose.Plan? = w.withUnsafeBufferPointer { wp in
                do throws(ShapeError) { return try F32ConvTranspose.Plan(t, weights: wp.baseAddress!, bias: nil, activation: .none) } catch { return nil }
            }
            guard let tplan else {
                failures.append("\(label): no transposed-conv plan for the input gradient (\(t))")
                continue
            }
            var dx = poisoned(g.inputShape.elementCount)
            dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { tplan.runSingleThreaded(input: dp.baseAddress!, output: $0.baseAddress!) } }
            if let f = dx.withUnsafeBufferPointer({ compare($0, refX, rtol: Tolerances.direct, label: label + " dX") }) { failures.append(f) }

            // The twins against finite differences of the forward reference (linear, so exact up to rounding).
            failures += finiteDifference(label + " dW", analytic: refW, count: g.weightCount, rng: &rng) { i, h in
                var wp = w
                wp[i] += h
                return loss(g, x, wp, dy)
            }
            failures += finiteDifference(label + " dX", analytic: refX, count: x.count, rng: &rng) { i, h in
                var xp = x
                xp[i] += h
                return loss(g, xp, w, dy)
            }
        }
        return failures
    }

    /// The Winograd weight gradient (`F32ConvWeightGradient.WinogradPlan`), per image and streamed, against
    /// the Float64 twin, on random 3x3 stride-1 shapes (any padding, odd sizes, channels off the vector width).
    public static func winogradWeightGradient(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for _ in 0..<count {
            let g = ConvChecks.randomGeometry(.winograd(.f2), rng: &rng)
            let x = rng.floats(g.inputShape.elementCount), dy = rng.floats(g.outputShape.elementCount)
            let (refW, _) = x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer {
                BackwardReference.convWeightGradient(g, input: xp.baseAddress!, outputGradient: $0.baseAddress!) } }
            let label = "seed \(seed) \(g)"
            guard let plan = try? F32ConvWeightGradient.WinogradPlan(g) else { failures.append("\(label): no plan"); continue }
            var perImage = poisoned(g.weightCount), streamed = poisoned(g.weightCount)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
                perImage.withUnsafeMutableBufferPointer { wp in
                    plan.runSingleThreaded(input: xp.baseAddress!, outputGradient: dp.baseAddress!, weightGradient: wp.baseAddress!, biasGradient: nil)
                }
                streamed.withUnsafeMutableBufferPointer { wp in
                    plan.runStreamed(input: xp.baseAddress!, outputGradient: dp.baseAddress!, weightGradient: wp.baseAddress!, spread: runOnCallingThread)
                }
            } }
            if let f = perImage.withUnsafeBufferPointer({ compare($0, refW, rtol: Tolerances.weightGradient, label: label + " dW per image") }) { failures.append(f) }
            if let f = streamed.withUnsafeBufferPointer({ compare($0, refW, rtol: Tolerances.weightGradient, label: label + " dW streamed") }) { failures.append(f) }
        }
        return failures
    }

    static func loss(_ g: Conv2dGeometry, _ x: [Float], _ w: [Float], _ r: [Float]) -> Double {
        let y = x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer {
            ConvReference.conv2d(g, input: xp.baseAddress!, weights: $0.baseAddress!, bias: nil, activation: .none) } }
        var s = 0.0
        for i in 0..<y.count { s += y[i] * Double(r[i]) }
        return s
    }

    /// Compares `analytic[i]` with `(L(+h) - L(-h)) / 2h` at a few random coordinates. `evaluate(i, h)` perturbs
    /// coordinate i by h = 1/4 in Float; the rounding of `x + h` changes the step by at most 2^-24 |x|, a
    /// relative error below 3e-7, inside `Tolerances.finiteDifference`.
    static func finiteDifference(_ label: String, analytic: [Double], count: Int, rng: inout SplitMix64,
                                 evaluate: (Int, Float) -> Double) -> [String] {
        var failures: [String] = []
        var scale = 0.0
        for a in analytic { scale = max(scale, abs(a)) }
        for _ in 0..<min(4, count) {
            let i = rng.int(0...(count - 1))
            let h: Float = 0.25
            let numeric = (evaluate(i, h) - evaluate(i, -h)) / Double(2 * h)
            if abs(numeric - analytic[i]) > Tolerances.finiteDifference * (abs(analytic[i]) + scale) + 1e-9 {
                failures.append("\(label): finite difference at \(i) is \(numeric), analytic \(analytic[i])")
            }
        }
        return failures
    }

    /// Pooling, resampling, activation and BatchNorm backward kernels against their Float64 twins, and
    /// the twins of the linear maps and of BatchNorm against finite differences.
    public static func layers(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for _ in 0..<count {
            let c = rng.pick([1, 3, 8, 17]), h = rng.int(2...13), w = rng.int(2...11)
            let shape = ImageShape(batch: 1, channels: c, height: h, width: w)
            let x = rng.floats(shape.elementCount)
            // Max and average pooling.
            let k = rng.pick([2, 3]), s = rng.pick([1, 2]), pad = rng.int(0...(k / 2))
            let pg = Pool2dGeometry(channels: c, inHeight: h, inWidth: w, kernel: k, stride: s, padding: pad)
            if pg.validate() == nil {
                let dy = rng.floats(pg.outputShape.elementCount)
                let label = "seed \(seed) pool \(pg)"
                var out = [Float](repeating: 0, count: pg.outputShape.elementCount)
                var indices = [Int32](repeating: 0, count: out.count)
                var dx = poisoned(x.count)
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in indices.withUnsafeMutableBufferPointer {
                    F32Pooling.maxPool(pg, input: xp.baseAddress!, output: op.baseAddress!, indices: $0.baseAddress!, rows: 0..<pg.outHeight) } } }
                dy.withUnsafeBufferPointer { dp in indices.withUnsafeBufferPointer { ip in dx.withUnsafeMutableBufferPointer {
                    F32LayerBackward.maxPool(pg, outputGradient: dp.baseAddress!, indices: ip.baseAddress!, inputGradient: $0.baseAddress!) } } }
                let refMax = x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { BackwardReference.maxPool(pg, input: xp.baseAddress!, outputGradient: $0.baseAddress!) } }
                if let f = dx.withUnsafeBufferPointer({ compare($0, refMax, rtol: Tolerances.elementwise, label: label + " max") }) { failures.append(f) }
                dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer {
                    F32LayerBackward.averagePool(pg, outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!) } }
                let refAvg = dy.withUnsafeBufferPointer { BackwardReference.averagePool(pg, outputGradient: $0.baseAddress!) }
                if let f = dx.withUnsafeBufferPointer({ compare($0, refAvg, rtol: Tolerances.elementwise, label: label + " avg") }) { failures.append(f) }
                failures += finiteDifference(label + " avg FD", analytic: refAvg, count: x.count, rng: &rng) { i, step in
                    var xp = x
                    xp[i] += step
                    let y = xp.withUnsafeBufferPointer { LayerReference.averagePool(pg, $0.baseAddress!) }
                    var l = 0.0
                    for j in 0..<y.count { l += y[j] * Double(dy[j]) }
                    return l
                }
            }
            // Bilinear resampling (up or down, both corner conventions).
            let oh = rng.int(1...20), ow = rng.int(1...20), align = rng.int(0...1) == 1
            let dyr = rng.floats(oh * ow * c)
            var dxr = poisoned(x.count)
            dyr.withUnsafeBufferPointer { dp in dxr.withUnsafeMutableBufferPointer {
                F32LayerBackward.bilinear(shape, outHeight: oh, outWidth: ow, alignCorners: align, outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!) } }
            let refBilinear = dyr.withUnsafeBufferPointer { BackwardReference.bilinear(shape, outHeight: oh, outWidth: ow, alignCorners: align, outputGradient: $0.baseAddress!) }
            let rlabel = "seed \(seed) bilinear \(shape) -> \(oh)x\(ow) align \(align)"
            if let f = dxr.withUnsafeBufferPointer({ compare($0, refBilinear, rtol: Tolerances.elementwise, label: rlabel) }) { failures.append(f) }
            failures += finiteDifference(rlabel + " FD", analytic: refBilinear, count: x.count, rng: &rng) { i, step in
                var xp = x
                xp[i] += step
                let y = xp.withUnsafeBufferPointer { LayerReference.bilinear(shape, outHeight: oh, outWidth: ow, alignCorners: align, $0.baseAddress!) }
                var l = 0.0
                for j in 0..<y.count { l += y[j] * Double(dyr[j]) }
                return l
            }
            // BatchNorm in training mode.
            failures += batchNorm(x, channels: c, rng: &rng, label: "seed \(seed) batchnorm \(shape)")
        }
        // Several partial-sum chunks (F32BatchNormTraining.chunkPixels), a channel tail, and a mean far
        // from zero.
        let c = rng.pick([9, 19]), pixels = rng.int(600...800)
        failures += batchNorm(rng.floats(c * pixels).map { $0 + 3 }, channels: c, rng: &rng, label: "seed \(seed) batchnorm \(pixels)x\(c)")
        return failures
    }

    static func batchNorm(_ x: [Float], channels c: Int, rng: inout SplitMix64, label: String) -> [String] {
        var failures: [String] = []
        let pixels = x.count / c
        if pixels < 2 { return [] }
        let gamma = rng.floats(c).map { $0 + 1.5 }, beta = rng.floats(c), dy = rng.floats(x.count)
        let xd = x.map { Double($0) }, gd = gamma.map { Double($0) }, bd = beta.map { Double($0) }
        let refY = BackwardReference.batchNormForward(xd, channels: c, gamma: gd, beta: bd, epsilon: 1e-5)
        for activation in [FusedActivation.none, .relu] {
            let label = label + (activation == .none ? "" : " relu")
            var runningMean = [Float](repeating: 0, count: c), runningVar = [Float](repeating: 1, count: c)
            var y = poisoned(x.count), dx = poisoned(x.count), dg = poisoned(c), db = poisoned(c)
            let saved = x.withUnsafeBufferPointer { xp in gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
                runningMean.withUnsafeMutableBufferPointer { rm in runningVar.withUnsafeMutableBufferPointer { rv in y.withUnsafeMutableBufferPointer {
                    F32BatchNormTraining.forward(xp.baseAddress!, pixels: pixels, channels: c, gamma: gp.baseAddress!, beta: bp.baseAddress!,
                                                 epsilon: 1e-5, momentum: 0.1, runningMean: rm.baseAddress!, runningVariance: rv.baseAddress!,
                                                 activation: activation, output: $0.baseAddress!) } } } } } }
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in gamma.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { dxp in dg.withUnsafeMutableBufferPointer { dgp in db.withUnsafeMutableBufferPointer {
                    F32BatchNormTraining.backward(xp.baseAddress!, outputGradient: dp.baseAddress!, activation: activation,
                                                  pixels: pixels, channels: c, gamma: gp.baseAddress!, saved: saved, inputGradient: dxp.baseAddress!,
                                                  gammaGradient: dgp.baseAddress!, betaGradient: $0.baseAddress!) } } } } } }
            // Training writes the input gradient over the input when it is the input's last reader: the same bits.
            var inPlace = x, dgInPlace = poisoned(c), dbInPlace = poisoned(c)
            dy.withUnsafeBufferPointer { dp in gamma.withUnsafeBufferPointer { gp in
                inPlace.withUnsafeMutableBufferPointer { xp in dgInPlace.withUnsafeMutableBufferPointer { dgp in dbInPlace.withUnsafeMutableBufferPointer {
                    F32BatchNormTraining.backward(UnsafePointer(xp.baseAddress!), outputGradient: dp.baseAddress!, activation: activation,
                                                  pixels: pixels, channels: c, gamma: gp.baseAddress!, saved: saved, inputGradient: xp.baseAddress!,
                                                  gammaGradient: dgp.baseAddress!, betaGradient: $0.baseAddress!) } } } } }
            func bits(_ v: [Float]) -> [UInt32] { v.map { $0.bitPattern } }
            if bits(inPlace) != bits(dx) || bits(dgInPlace) != bits(dg) || bits(dbInPlace) != bits(db) {
                failures.append("\(label): the input gradient written over the input differs from the one written apart")
            }
            // Recomputing the output into a concatenation's channel slot (a wider row, at an offset) writes the
            // forward's bits there and nothing between the slots.
            let stride = c + 3, offset = 2
            var slot = poisoned(pixels * stride)
            x.withUnsafeBufferPointer { xp in saved.scale.withUnsafeBufferPointer { sp in saved.shift.withUnsafeBufferPointer { hp in
                slot.withUnsafeMutableBufferPointer {
                    F32BatchNormTraining.normalize(xp.baseAddress!, channels: c, scale: sp.baseAddress!, shift: hp.baseAddress!, activation: activation,
                                                   pixels: 0..<pixels, output: $0.baseAddress! + offset, outputStride: stride) } } } }
            let wrong = slot.indices.first { e in
                let p = e / stride, k = e % stride
                return k >= offset && k < offset + c ? slot[e].bitPattern != y[p * c + k - offset].bitPattern : !slot[e].isNaN
            }
            if let e = wrong { failures.append("\(label): normalize into a slot of stride \(stride): element \(e) is \(slot[e])") }
            // ReLU's gradient passes where the output is positive; near zero the two computations may disagree
            // on the sign, so those elements take the fast kernel's choice (from its own output).
            let expectedY = refY.map { activation.apply($0) }
            let dyd = (0..<dy.count).map { activation == .none || y[$0] > 0 ? Double(dy[$0]) : 0 }
            let ref = BackwardReference.batchNormBackward(xd, dy: dyd, channels: c, gamma: gd, epsilon: 1e-5)
            // Normalization divides by a batch std that can be small: a few ulps of the inputs become 1e-5 here.
            if let f = y.withUnsafeBufferPointer({ compare($0, expectedY, rtol: Tolerances.transcendental, label: label + " y") }) { failures.append(f) }
            if let f = dx.withUnsafeBufferPointer({ compare($0, ref.dx, rtol: 1e-4, label: label + " dx") }) { failures.append(f) }
            if let f = dg.withUnsafeBufferPointer({ compare($0, ref.dgamma, rtol: 1e-4, label: label + " dgamma") }) { failures.append(f) }
            if let f = db.withUnsafeBufferPointer({ compare($0, ref.dbeta, rtol: 1e-5, label: label + " dbeta") }) { failures.append(f) }
        }
        let dyd = dy.map { Double($0) }
        let ref = BackwardReference.batchNormBackward(xd, dy: dyd, channels: c, gamma: gd, epsilon: 1e-5)
        // The Float64 twin against central differences of the Float64 forward.
        var scale = 0.0
        for v in ref.dx { scale = max(scale, abs(v)) }
        for _ in 0..<3 {
            let i = rng.int(0...(x.count - 1)), h = 1e-5
            var plus = xd, minus = xd
            plus[i] += h
            minus[i] -= h
            let yp = BackwardReference.batchNormForward(plus, channels: c, gamma: gd, beta: bd, epsilon: 1e-5)
            let ym = BackwardReference.batchNormForward(minus, channels: c, gamma: gd, beta: bd, epsilon: 1e-5)
            var numeric = 0.0
            for j in 0..<yp.count { numeric += (yp[j] - ym[j]) * dyd[j] }
            numeric /= 2 * h
            if abs(numeric - ref.dx[i]) > 1e-5 * (abs(ref.dx[i]) + scale) {
                failures.append("\(label): finite difference dx[\(i)] = \(numeric), analytic \(ref.dx[i])")
            }
        }
        return failures
    }
}
