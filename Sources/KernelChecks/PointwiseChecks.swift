import Kernels

/// Randomized checks of `F32Pointwise` (clip, PReLU, constant pad, and their backward passes) and
/// `F32GroupNorm` (forward and backward) against plain Float64 twins, on odd shapes with channel counts off
/// the vector width. Outputs start poisoned with NaN, so an element a kernel does not write fails.
///
/// Tolerances: clip, pad and crop move values, so they must match exactly; PReLU within 1e-6 (one float
/// product); GroupNorm forward within 1e-5 and backward within 1e-4 of `|ref| + rms(ref)` (float32 inputs to
/// Float64 statistics). The GroupNorm backward twin is itself checked against central differences of the
/// forward twin (1e-6).
public enum PointwiseChecks {
    public static func randomized(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        for i in 0..<count {
            let pixels = rng.int(1...40), channels = rng.pick(ConvChecks.channelCounts)
            let label = "#\(i) seed \(seed) \(pixels) px x \(channels) ch"
            let x = rng.floats(pixels * channels), dy = rng.floats(pixels * channels)
            let n = x.count
            // Clip and its gradient.
            let low = -Float.random(in: 0..<1, using: &rng) * 0.6, high = Float.random(in: 0..<1, using: &rng) * 0.6
            var y = poisoned(n), dx = poisoned(n)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in
                y.withUnsafeMutableBufferPointer { F32Pointwise.clip(xp.baseAddress!, low: low, high: high, output: $0.baseAddress!, range: 0..<n) }
                dx.withUnsafeMutableBufferPointer {
                    F32Pointwise.clipBackward(xp.baseAddress!, low: low, high: high, outputGradient: dp.baseAddress!, inputGradient: $0.baseAddress!, range: 0..<n)
                }
            } }
            let clipRef = x.map { Double(min(max($0, low), high)) }
            let clipGradRef = (0..<n).map { x[$0] >= low && x[$0] <= high ? Double(dy[$0]) : 0 }
            failures += check(y, clipRef, rtol: 0, "clip " + label) + check(dx, clipGradRef, rtol: 0, "clip backward " + label)

            // PReLU, per channel or shared, and its gradients.
            let slopes = rng.pick([1, channels]), slope = rng.floats(slopes, scale: 0.5)
            var slopeGradient = [Float](repeating: 0, count: slopes)
            y = poisoned(n)
            dx = poisoned(n)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in slope.withUnsafeBufferPointer { sp in
                y.withUnsafeMutableBufferPointer {
                    F32Pointwise.prelu(xp.baseAddress!, slope: sp.baseAddress!, slopes: slopes, channels: channels, output: $0.baseAddress!, pixels: 0..<pixels)
                }
                dx.withUnsafeMutableBufferPointer { d in slopeGradient.withUnsafeMutableBufferPointer { g in
                    F32Pointwise.preluBackward(xp.baseAddress!, slope: sp.baseAddress!, slopes: slopes, channels: channels, outputGradient: dp.baseAddress!,
                                               inputGradient: d.baseAddress!, slopeGradient: g.baseAddress!, pixels: 0..<pixels)
                } }
            } } }
            var preluRef = [Double](repeating: 0, count: n), preluGradRef = preluRef, slopeGradRef = [Double](repeating: 0, count: slopes)
            for k in 0..<n {
                let a = Double(slope[slopes == 1 ? 0 : k % channels]), v = Double(x[k]), d = Double(dy[k])
                preluRef[k] = v > 0 ? v : a * v
                preluGradRef[k] = v > 0 ? d : a * d
                if v <= 0 { slopeGradRef[slopes == 1 ? 0 : k % channels] += d * v }
            }
            failures += check(y, preluRef, rtol: 1e-6, "prelu " + label) + check(dx, preluGradRef, rtol: 1e-6, "prelu backward " + label)
                + check(slopeGradient, slopeGradRef, rtol: 1e-5, "prelu slope gradient " + label)

            // Constant pad of an h x w image, and crop (its backward) back.
            let w = rng.int(1...min(7, pixels)), h = pixels / w, image = Array(x[0..<(h * w * channels)])
            let top = rng.int(0...3), left = rng.int(0...3), outH = h + top + rng.int(0...3), outW = w + left + rng.int(0...3)
            let value = Float.random(in: 0..<1, using: &rng) - 0.5
            var padded = poisoned(outH * outW * channels)
            image.withUnsafeBufferPointer { xp in padded.withUnsafeMutableBufferPointer {
                F32Pointwise.pad(xp.baseAddress!, inHeight: h, inWidth: w, channels: channels, top: top, left: left, value: value,
                                 output: $0.baseAddress!, outHeight: outH, outWidth: outW, rows: 0..<outH)
            } }
            var padRef = [Double](repeating: Double(value), count: padded.count)
            for yy in 0..<h { for xx in 0..<w { for c in 0..<channels {
                padRef[((yy + top) * outW + xx + left) * channels + c] = Double(image[(yy * w + xx) * channels + c])
            } } }
            var cropped = poisoned(image.count)
            padded.withUnsafeBufferPointer { pp in cropped.withUnsafeMutableBufferPointer {
                F32Pointwise.crop(pp.baseAddress!, outHeight: outH, outWidth: outW, channels: channels, top: top, left: left,
                                  inputGradient: $0.baseAddress!, inHeight: h, inWidth: w)
            } }
            failures += check(padded, padRef, rtol: 0, "pad " + label) + check(cropped, image.map { Double($0) }, rtol: 0, "crop " + label)

            // GroupNorm over one image.
            let divisors = (1...channels).filter { channels % $0 == 0 }, groups = rng.pick(divisors)
            let gamma = rng.floats(channels), beta = rng.floats(channels), epsilon: Float = 1e-5
            y = poisoned(n)
            dx = poisoned(n)
            var gammaGradient = [Float](repeating: 0, count: channels), betaGradient = gammaGradient
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer {
                    F32GroupNorm.forward(xp.baseAddress!, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon,
                                         gamma: gp.baseAddress!, beta: bp.baseAddress!, output: $0.baseAddress!)
                }
                dx.withUnsafeMutableBufferPointer { d in gammaGradient.withUnsafeMutableBufferPointer { gg in betaGradient.withUnsafeMutableBufferPointer { bg in
                    F32GroupNorm.backward(xp.baseAddress!, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon, gamma: gp.baseAddress!,
                                          outputGradient: dp.baseAddress!, inputGradient: d.baseAddress!,
                                          gammaGradient: gg.baseAddress!, betaGradient: bg.baseAddress!)
                } } }
            } } } }
            let xd = x.map { Double($0) }, gd = gamma.map { Double($0) }, bd = beta.map { Double($0) }, dyd = dy.map { Double($0) }
            let label2 = label + " groups \(groups)"
            failures += check(y, groupNorm(xd, channels, groups, Double(epsilon), gd, bd), rtol: 1e-5, "group norm " + label2)
            // Statistics computed in two ranges of groups (as threads split them) equal the whole's, bit for bit.
            let whole = x.withUnsafeBufferPointer { F32GroupNorm.statistics($0.baseAddress!, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon) }
            var splitMean = [Float](repeating: .nan, count: groups), splitInverse = splitMean
            let cut = rng.int(0...groups)
            x.withUnsafeBufferPointer { xp in splitMean.withUnsafeMutableBufferPointer { m in splitInverse.withUnsafeMutableBufferPointer { v in
                for range in [0..<cut, cut..<groups] {
                    F32GroupNorm.statistics(xp.baseAddress!, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon,
                                            groupRange: range, mean: m.baseAddress!, inverseStd: v.baseAddress!)
                }
            } } }
            if splitMean != whole.mean || splitInverse != whole.inverseStd { failures.append("group norm statistics split at group \(cut) differ " + label2) }
            let grads = groupNormBackward(xd, channels, groups, Double(epsilon), gd, dyd)
            failures += check(dx, grads.dx, rtol: 1e-4, "group norm dX " + label2) + check(gammaGradient, grads.dGamma, rtol: 1e-4, "group norm dGamma " + label2)
                + check(betaGradient, grads.dBeta, rtol: 1e-4, "group norm dBeta " + label2)
            // The twin's dX against central differences of the twin's forward (loss = sum(dy * y)).
            if pixels * (channels / groups) > 1 {
                let k = rng.int(0...(n - 1)), step = 1e-5
                func loss(_ v: [Double]) -> Double { zip(groupNorm(v, channels, groups, Double(epsilon), gd, bd), dyd).reduce(0) { $0 + $1.0 * $1.1 } }
                var plus = xd, minus = xd
                plus[k] += step
                minus[k] -= step
                let numeric = (loss(plus) - loss(minus)) / (2 * step)
                if abs(numeric - grads.dx[k]) > 1e-6 * (abs(numeric) + 1) {
                    failures.append("group norm twin dX[\(k)] \(grads.dx[k]) vs finite difference \(numeric) " + label2)
                }
            }
        }
        return failures
    }

    private static func check(_ got: [Float], _ ref: [Double], rtol: Double, _ label: String) -> [String] {
        got.withUnsafeBufferPointer { compare($0, ref, rtol: rtol, label: label) }.map { [$0] } ?? []
    }

    /// Float64 GroupNorm of one NHWC image: biased variance, per-channel scale and shift.
    static func groupNorm(_ x: [Double], _ channels: Int, _ groups: Int, _ epsilon: Double, _ gamma: [Double], _ beta: [Double]) -> [Double] {
        let (mean, inverse) = groupStatistics(x, channels, groups, epsilon), per = channels / groups
        return (0..<x.count).map { k in
            let c = k % channels, g = c / per
            return (x[k] - mean[g]) * inverse[g] * gamma[c] + beta[c]
        }
    }

    static func groupStatistics(_ x: [Double], _ channels: Int, _ groups: Int, _ epsilon: Double) -> (mean: [Double], inverse: [Double]) {
        let per = channels / groups, count = Double(x.count / channels * per)
        var mean = [Double](repeating: 0, count: groups), variance = mean
        for k in 0..<x.count { mean[k % channels / per] += x[k] / count }
        for k in 0..<x.count { let d = x[k] - mean[k % channels / per]; variance[k % channels / per] += d * d / count }
        return (mean, variance.map { 1 / ($0 + epsilon).squareRoot() })
    }

    /// Float64 GroupNorm gradients: dX, dGamma, dBeta for output gradient `dy`.
    static func groupNormBackward(_ x: [Double], _ channels: Int, _ groups: Int, _ epsilon: Double, _ gamma: [Double],
                                  _ dy: [Double]) -> (dx: [Double], dGamma: [Double], dBeta: [Double]) {
        let (mean, inverse) = groupStatistics(x, channels, groups, epsilon), per = channels / groups
        let count = Double(x.count / channels * per)
        var sumD = [Double](repeating: 0, count: groups), sumDX = sumD
        var dGamma = [Double](repeating: 0, count: channels), dBeta = dGamma
        for k in 0..<x.count {
            let c = k % channels, g = c / per, xhat = (x[k] - mean[g]) * inverse[g]
            sumD[g] += dy[k] * gamma[c]
            sumDX[g] += dy[k] * gamma[c] * xhat
            dGamma[c] += dy[k] * xhat
            dBeta[c] += dy[k]
        }
        let dx = (0..<x.count).map { k -> Double in
            let c = k % channels, g = c / per, xhat = (x[k] - mean[g]) * inverse[g]
            return inverse[g] * (dy[k] * gamma[c] - sumD[g] / count - xhat * sumDX[g] / count)
        }
        return (dx, dGamma, dBeta)
    }
}
