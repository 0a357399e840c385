/// GroupNorm over one NHWC image (InstanceNorm is `groups == channels`): the channels are split into
/// `groups` contiguous groups, each normalized over its channels and all pixels with its own mean and
/// variance (biased), then scaled and shifted per channel. Sums run in Float64 in a fixed order, so the
/// result does not depend on how images are spread over threads.
public enum F32GroupNorm {
    /// Mean and 1/sqrt(variance + epsilon) of every group of the image.
    @export(interface)
    public static func statistics(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float)
        -> (mean: [Float], inverseStd: [Float]) {
        var mean = [Float](repeating: 0, count: groups), inverse = [Float](repeating: 0, count: groups)
        mean.withUnsafeMutableBufferPointer { m in inverse.withUnsafeMutableBufferPointer { v in
            statistics(x, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon, groupRange: 0..<groups,
                       mean: m.baseAddress!, inverseStd: v.baseAddress!)
        } }
        return (mean, inverse)
    }

    /// The statistics of the groups in `groupRange` only (threads split the groups). Each group's sums run
    /// over its pixels in order and, within a pixel, over its channels in order, whatever the range.
    @export(interface)
    public static func statistics(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float,
                                  groupRange: Range<Int>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>) {
        let per = channels / groups
        let n = Double(pixels * per)
        func finish(_ g: Int, _ sum: Double, _ squares: Double) {
            let m = sum / n
            let variance = max(0, squares / n - m * m)
            mean[g] = Float(m)
            inverseStd[g] = Float(1 / (variance + Double(epsilon)).squareRoot())
        }
        var g = groupRange.lowerBound
        if per == 1 {
            // InstanceNorm: eight channels' sums at once, each lane in pixel order (the scalar order).
            while g + 8 <= groupRange.upperBound {
                var sum = SIMD8<Double>(), squares = SIMD8<Double>()
                var p = x + g
                for _ in 0..<pixels {
                    let v = SIMD8<Double>(SIMD8<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)))
                    sum += v
                    squares += v * v
                    p += channels
                }
                for k in 0..<8 { finish(g + k, sum[k], squares[k]) }
                g += 8
            }
        }
        while g < groupRange.upperBound {
            var sum = 0.0, squares = 0.0
            var p = x + g * per
            for _ in 0..<pixels {
                for k in 0..<per {
                    let v = Double(p[k])
                    sum += v
                    squares += v * v
                }
                p += channels
            }
            finish(g, sum, squares)
            g += 1
        }
    }

    /// `y = (x - mean[g]) * inverseStd[g] * gamma[c] + beta[c]` for one image.
    public static func forward(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (mean, inverse) = statistics(x, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon)
        let per = channels / groups
        let channelMean = (0..<channels).map { mean[$0 / per] }, channelInverse = (0..<channels).map { inverse[$0 / per] }
        channelMean.withUnsafeBufferPointer { m in channelInverse.withUnsafeBufferPointer { v in
            normalize(x, pixels: 0..<pixels, channels: channels, mean: m.baseAddress!, inverseStd: v.baseAddress!, gamma: gamma, beta: beta, output: y)
        } }
    }

    /// The second pass over pixels `pixels` (threads split them), with the statistics given per channel:
    /// `y = (x - mean[c]) * inverseStd[c] * gamma[c] + beta[c]`, in that order of operations in every lane.
    @export(interface)
    public static func normalize(_ x: UnsafePointer<Float>, pixels: Range<Int>, channels: Int, mean: UnsafePointer<Float>,
                                 inverseStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 output y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        for p in pixels {
            let row = x + p * channels, out = y + p * channels
            var c = 0
            while c + 16 <= channels {
                let v = UnsafeRawPointer(row + c).loadUnaligned(as: V.self)
                let m = UnsafeRawPointer(mean + c).loadUnaligned(as: V.self), s = UnsafeRawPointer(inverseStd + c).loadUnaligned(as: V.self)
                let g = UnsafeRawPointer(gamma + c).loadUnaligned(as: V.self), b = UnsafeRawPointer(beta + c).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(out + c).storeBytes(of: (v - m) * s * g + b, as: V.self)
                c += 16
            }
            while c < channels {
                out[c] = (row[c] - mean[c]) * inverseStd[c] * gamma[c] + beta[c]
                c += 1
            }
        }
    }

    /// dX of one image, and its gamma and beta gradients added into `gammaGradient` and `betaGradient`.
    public static func backward(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float,
                                gamma: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                inputGradient dx: UnsafeMutablePointer<Float>,
                                gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>) {
        let (mean, inverse) = statistics(x, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon)
        let per = channels / groups
        // Per group: sum of dxhat and of dxhat * xhat, where dxhat = dy * gamma.
        var sumD = [Double](repeating: 0, count: groups), sumDX = [Double](repeating: 0, count: groups)
        var dg = [Double](repeating: 0, count: channels), db = [Double](repeating: 0, count: channels)
        for p in 0..<pixels {
            for c in 0..<channels {
                let g = c / per, k = p * channels + c
                let xhat = Double((x[k] - mean[g]) * inverse[g]), d = Double(dy[k])
                let dxhat = d * Double(gamma[c])
                sumD[g] += dxhat
                sumDX[g] += dxhat * xhat
                dg[c] += d * xhat
                db[c] += d
            }
        }
        let n = Double(pixels * per)
        for p in 0..<pixels {
            for c in 0..<channels {
                let g = c / per, k = p * channels + c
                let xhat = Double((x[k] - mean[g]) * inverse[g])
                let dxhat = Double(dy[k]) * Double(gamma[c])
                dx[k] = Float(Double(inverse[g]) * (dxhat - sumD[g] / n - xhat * sumDX[g] / n))
            }
        }
        for c in 0..<channels {
            gammaGradient[c] += Float(dg[c])
            betaGradient[c] += Float(db[c])
        }
    }
}
