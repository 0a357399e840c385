/// Float64 twins of the backward kernels: straightforward loops, NHWC, checked themselves against
/// finite differences of the forward references (KernelChecks/BackwardChecks.swift).
public enum BackwardReference {
    /// Weight (OIHW) and bias gradients of `ConvReference.conv2d` (groups 1) for output gradient `dy`.
    public static func convWeightGradient(_ g: Conv2dGeometry, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>)
        -> (weights: [Double], bias: [Double]) {
        var dw = [Double](repeating: 0, count: g.weightCount), db = [Double](repeating: 0, count: g.outChannels)
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<g.batch { for oy in 0..<oh { for ox in 0..<ow { for o in 0..<g.outChannels {
            let gy = Double(dy[((n * oh + oy) * ow + ox) * g.outChannels + o])
            db[o] += gy
            for ky in 0..<g.kernelHeight {
                let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                if iy < 0 || iy >= g.inHeight { continue }
                for kx in 0..<g.kernelWidth {
                    let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                    if ix < 0 || ix >= g.inWidth { continue }
                    for i in 0..<g.inChannels {
                        dw[((o * g.inChannels + i) * g.kernelHeight + ky) * g.kernelWidth + kx] +=
                            gy * Double(input[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + i])
                    }
                }
            }
        } } } }
        return (dw, db)
    }

    /// Input gradient of `ConvReference.conv2d` (groups 1), NHWC.
    public static func convInputGradient(_ g: Conv2dGeometry, weights: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>) -> [Double] {
        var dx = [Double](repeating: 0, count: g.inputShape.elementCount)
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<g.batch { for oy in 0..<oh { for ox in 0..<ow { for o in 0..<g.outChannels {
            let gy = Double(dy[((n * oh + oy) * ow + ox) * g.outChannels + o])
            for ky in 0..<g.kernelHeight {
                let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                if iy < 0 || iy >= g.inHeight { continue }
                for kx in 0..<g.kernelWidth {
                    let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                    if ix < 0 || ix >= g.inWidth { continue }
                    for i in 0..<g.inChannels {
                        dx[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + i] +=
                            gy * Double(weights[((o * g.inChannels + i) * g.kernelHeight + ky) * g.kernelWidth + kx])
                    }
                }
            }
        } } } }
        return dx
    }

    /// Average and adaptive pooling are linear: their input gradient is the adjoint of the forward map.
    /// This generic adjoint takes the forward's window of each output pixel.
    static func windowAdjoint(outPixels: Int, channels c: Int, inPixels: Int, window: (Int) -> [Int], dy: UnsafePointer<Float>) -> [Double] {
        var dx = [Double](repeating: 0, count: inPixels * c)
        for p in 0..<outPixels {
            let cells = window(p)
            for q in cells { for ch in 0..<c { dx[q * c + ch] += Double(dy[p * c + ch]) / Double(cells.count) } }
        }
        return dx
    }

    public static func averagePool(_ g: Pool2dGeometry, outputGradient dy: UnsafePointer<Float>) -> [Double] {
        windowAdjoint(outPixels: g.outHeight * g.outWidth, channels: g.channels, inPixels: g.inHeight * g.inWidth, window: { p in
            let oy = p / g.outWidth, ox = p % g.outWidth
            var cells: [Int] = []
            for y in max(0, oy * g.stride - g.padding)..<min(g.inHeight, oy * g.stride - g.padding + g.kernel) {
                for x in max(0, ox * g.stride - g.padding)..<min(g.inWidth, ox * g.stride - g.padding + g.kernel) { cells.append(y * g.inWidth + x) }
            }
            return cells
        }, dy: dy)
    }

    /// Max pooling: the gradient goes to the first maximum of each window (ties resolved as the forward does).
    public static func maxPool(_ g: Pool2dGeometry, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>) -> [Double] {
        let (_, indices) = LayerReference.maxPool(g, x)
        var dx = [Double](repeating: 0, count: g.inHeight * g.inWidth * g.channels)
        for k in 0..<indices.count { dx[Int(indices[k]) * g.channels + k % g.channels] += Double(dy[k]) }
        return dx
    }

    /// Bilinear resize (linear): the adjoint of `LayerReference.bilinear`, built from its weights.
    public static func bilinear(_ s: ImageShape, outHeight: Int, outWidth: Int, alignCorners: Bool, outputGradient dy: UnsafePointer<Float>) -> [Double] {
        let c = s.channels
        var dx = [Double](repeating: 0, count: s.height * s.width * c)
        for oy in 0..<outHeight {
            let sy = F32Upsample.sourceCoordinate(oy, inSize: s.height, outSize: outHeight, alignCorners: alignCorners)
            let y0 = min(Int(sy), s.height - 1), y1 = min(y0 + 1, s.height - 1), fy = sy - Double(y0)
            for ox in 0..<outWidth {
                let sx = F32Upsample.sourceCoordinate(ox, inSize: s.width, outSize: outWidth, alignCorners: alignCorners)
                let x0 = min(Int(sx), s.width - 1), x1 = min(x0 + 1, s.width - 1), fx = sx - Double(x0)
                for ch in 0..<c {
                    let v = Double(dy[(oy * outWidth + ox) * c + ch])
                    dx[(y0 * s.width + x0) * c + ch] += (1 - fy) * (1 - fx) * v
                    dx[(y0 * s.width + x1) * c + ch] += (1 - fy) * fx * v
                    dx[(y1 * s.width + x0) * c + ch] += fy * (1 - fx) * v
                    dx[(y1 * s.width + x1) * c + ch] += fy * fx * v
                }
            }
        }
        return dx
    }

    /// Training-mode BatchNorm forward in Float64 (biased batch variance), NHWC rows of `channels`.
    public static func batchNormForward(_ x: [Double], channels c: Int, gamma: [Double], beta: [Double], epsilon: Double) -> [Double] {
        let pixels = x.count / c
        var y = x
        for ch in 0..<c {
            var mean = 0.0, variance = 0.0
            for p in 0..<pixels { mean += x[p * c + ch] }
            mean /= Double(pixels)
            for p in 0..<pixels { variance += (x[p * c + ch] - mean) * (x[p * c + ch] - mean) }
            variance /= Double(pixels)
            let inv = 1 / (variance + epsilon).squareRoot()
            for p in 0..<pixels { y[p * c + ch] = (x[p * c + ch] - mean) * inv * gamma[ch] + beta[ch] }
        }
        return y
    }

    /// Its gradients (input, gamma, beta), derived directly from the formula in Float64.
    public static func batchNormBackward(_ x: [Double], dy: [Double], channels c: Int, gamma: [Double], epsilon: Double)
        -> (dx: [Double], dgamma: [Double], dbeta: [Double]) {
        let pixels = x.count / c, m = Double(pixels)
        var dx = x, dgamma = [Double](repeating: 0, count: c), dbeta = [Double](repeating: 0, count: c)
        for ch in 0..<c {
            var mean = 0.0, variance = 0.0
            for p in 0..<pixels { mean += x[p * c + ch] }
            mean /= m
            for p in 0..<pixels { variance += (x[p * c + ch] - mean) * (x[p * c + ch] - mean) }
            variance /= m
            let inv = 1 / (variance + epsilon).squareRoot()
            var sumDy = 0.0, sumDyXhat = 0.0
            for p in 0..<pixels {
                let xhat = (x[p * c + ch] - mean) * inv
                sumDy += dy[p * c + ch]
                sumDyXhat += dy[p * c + ch] * xhat
            }
            dgamma[ch] = sumDyXhat
            dbeta[ch] = sumDy
            for p in 0..<pixels {
                let xhat = (x[p * c + ch] - mean) * inv
                dx[p * c + ch] = gamma[ch] * inv / m * (m * dy[p * c + ch] - sumDy - xhat * sumDyXhat)
            }
        }
        return (dx, dgamma, dbeta)
    }
}
