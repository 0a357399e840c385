/// Plain Float64 references of the layer kernels (pools, resampling, elementwise, activations).
/// NHWC in and out, whole batches, written for clarity rather than speed.
public enum LayerReference {
    /// Max pooling; also returns each output's argmax as a flat input position `iy * inWidth + ix` (first on ties).
    public static func maxPool(_ g: Pool2dGeometry, _ x: UnsafePointer<Float>) -> (values: [Double], indices: [Int32]) {
        let oh = g.outHeight, ow = g.outWidth, c = g.channels
        var values = [Double](repeating: 0, count: g.batch * oh * ow * c)
        var indices = [Int32](repeating: -1, count: values.count)
        for n in 0..<g.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c {
                        var best = -Double.infinity, at = -1
                        for ky in 0..<g.kernel {
                            for kx in 0..<g.kernel {
                                let iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx
                                guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { continue }
                                let v = Double(x[((n * g.inHeight + iy) * g.inWidth + ix) * c + ch])
                                if at < 0 || v > best { best = v; at = iy * g.inWidth + ix }
                            }
                        }
                        let o = ((n * oh + oy) * ow + ox) * c + ch
                        values[o] = best
                        indices[o] = Int32(at)
                    }
                }
            }
        }
        return (values, indices)
    }

    /// Average pooling, padded positions not counted.
    public static func averagePool(_ g: Pool2dGeometry, _ x: UnsafePointer<Float>) -> [Double] {
        let oh = g.outHeight, ow = g.outWidth, c = g.channels
        var out = [Double](repeating: 0, count: g.batch * oh * ow * c)
        for n in 0..<g.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c {
                        var sum = 0.0, count = 0
                        for ky in 0..<g.kernel {
                            for kx in 0..<g.kernel {
                                let iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx
                                guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { continue }
                                sum += Double(x[((n * g.inHeight + iy) * g.inWidth + ix) * c + ch])
                                count += 1
                            }
                        }
                        out[((n * oh + oy) * ow + ox) * c + ch] = sum / Double(count)
                    }
                }
            }
        }
        return out
    }

    /// Adaptive average pooling with PyTorch's bin edges.
    public static func adaptiveAveragePool(_ s: ImageShape, outHeight: Int, outWidth: Int, _ x: UnsafePointer<Float>) -> [Double] {
        var out = [Double](repeating: 0, count: s.batch * outHeight * outWidth * s.channels)
        for n in 0..<s.batch {
            for oy in 0..<outHeight {
                let y0 = Int((Double(oy * s.height) / Double(outHeight)).rounded(.down))
                let y1 = Int((Double((oy + 1) * s.height) / Double(outHeight)).rounded(.up))
                for ox in 0..<outWidth {
                    let x0 = Int((Double(ox * s.width) / Double(outWidth)).rounded(.down))
                    let x1 = Int((Double((ox + 1) * s.width) / Double(outWidth)).rounded(.up))
                    for ch in 0..<s.channels {
                        var sum = 0.0
                        for y in y0..<y1 { for xx in x0..<x1 { sum += Double(x[((n * s.height + y) * s.width + xx) * s.channels + ch]) } }
                        out[((n * outHeight + oy) * outWidth + ox) * s.channels + ch] = sum / Double((y1 - y0) * (x1 - x0))
                    }
                }
            }
        }
        return out
    }

    /// Bilinear resize with PyTorch's align_corners conventions.
    public static func bilinear(_ s: ImageShape, outHeight: Int, outWidth: Int, alignCorners: Bool, _ x: UnsafePointer<Float>) -> [Double] {
        func coordinate(_ d: Int, _ inSize: Int, _ outSize: Int) -> Double {
            if alignCorners { return outSize > 1 ? Double(d) * Double(inSize - 1) / Double(outSize - 1) : 0 }
            return max(0, (Double(d) + 0.5) * Double(inSize) / Double(outSize) - 0.5)
        }
        var out = [Double](repeating: 0, count: s.batch * outHeight * outWidth * s.channels)
        for n in 0..<s.batch {
            for oy in 0..<outHeight {
                let sy = coordinate(oy, s.height, outHeight)
                let y0 = min(Int(sy.rounded(.down)), s.height - 1), y1 = min(y0 + 1, s.height - 1), fy = sy - Double(y0)
                for ox in 0..<outWidth {
                    let sx = coordinate(ox, s.width, outWidth)
                    let x0 = min(Int(sx.rounded(.down)), s.width - 1), x1 = min(x0 + 1, s.width - 1), fx = sx - Double(x0)
                    for ch in 0..<s.channels {
                        func at(_ y: Int, _ xx: Int) -> Double { Double(x[((n * s.height + y) * s.width + xx) * s.channels + ch]) }
                        let v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1))
                        out[((n * outHeight + oy) * outWidth + ox) * s.channels + ch] = v
                    }
                }
            }
        }
        return out
    }

    /// Nearest resize, source `floor(dst * in / out)`.
    public static func nearest(_ s: ImageShape, outHeight: Int, outWidth: Int, _ x: UnsafePointer<Float>) -> [Double] {
        var out = [Double](repeating: 0, count: s.batch * outHeight * outWidth * s.channels)
        for n in 0..<s.batch {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    let sy = oy * s.height / outHeight, sx = ox * s.width / outWidth
                    for ch in 0..<s.channels {
                        out[((n * outHeight + oy) * outWidth + ox) * s.channels + ch] = Double(x[((n * s.height + sy) * s.width + sx) * s.channels + ch])
                    }
                }
            }
        }
        return out
    }

    /// Softmax over channels of every pixel.
    public static func softmaxChannels(_ x: UnsafePointer<Float>, pixels: Int, channels c: Int) -> [Double] {
        var out = [Double](repeating: 0, count: pixels * c)
        for p in 0..<pixels {
            var m = -Double.infinity
            for ch in 0..<c { m = max(m, Double(x[p * c + ch])) }
            var sum = 0.0
            for ch in 0..<c { sum += exp64(Double(x[p * c + ch]) - m) }
            for ch in 0..<c { out[p * c + ch] = exp64(Double(x[p * c + ch]) - m) / sum }
        }
        return out
    }

    public static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp64(-x)) : exp64(x) / (1 + exp64(x)) }
    public static func elu(_ x: Double, alpha: Double) -> Double { x > 0 ? x : alpha * (exp64(x) - 1) }

    /// `e^x` in Float64 from its Taylor series after halving the argument until it is small, then squaring
    /// back: slow, simple, and accurate to about 1e-15 relative over the range the tests use.
    public static func exp64(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709 { return .infinity }
        if x < -745 { return 0 }
        var r = x, squarings = 0
        while abs(r) > 1.0 / 64 { r /= 2; squarings += 1 }
        var term = 1.0, sum = 1.0
        for k in 1...12 { term *= r / Double(k); sum += term }
        for _ in 0..<squarings { sum *= sum }
        return sum
    }
}
