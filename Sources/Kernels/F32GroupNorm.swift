/// GroupNorm over one NHWC image (InstanceNorm is `groups == channels`): the channels are split into
/// `groups` contiguous groups, each normalized over its channels and all pixels with its own mean and
/// variance (biased), then scaled and shifted per channel. Sums run in Float64 in a fixed order, so the
/// result does not depend on how images are spread over threads.
public enum F32GroupNorm {
    /// Mean and 1/sqrt(variance + epsilon) of every group of the image.
    public static func statistics(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float)
        -> (mean: [Float], inverseStd: [Float]) {
        let per = channels / groups
        var sum = [Double](repeating: 0, count: groups), squares = [Double](repeating: 0, count: groups)
        for p in 0..<pixels {
            for c in 0..<channels {
                let v = Double(x[p * channels + c])
                sum[c / per] += v
                squares[c / per] += v * v
            }
        }
        let n = Double(pixels * per)
        var mean = [Float](repeating: 0, count: groups), inverse = [Float](repeating: 0, count: groups)
        for g in 0..<groups {
            let m = sum[g] / n
            let variance = max(0, squares[g] / n - m * m)
            mean[g] = Float(m)
            inverse[g] = Float(1 / (variance + Double(epsilon)).squareRoot())
        }
        return (mean, inverse)
    }

    /// `y = (x - mean[g]) * inverseStd[g] * gamma[c] + beta[c]` for one image.
    public static func forward(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, groups: Int, epsilon: Float,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (mean, inverse) = statistics(x, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon)
        let per = channels / groups
        for p in 0..<pixels {
            for c in 0..<channels {
                let g = c / per
                y[p * channels + c] = (x[p * channels + c] - mean[g]) * inverse[g] * gamma[c] + beta[c]
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
