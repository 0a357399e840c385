/// Plain integer twins of the int8 GEMM kernels: the spec `Q8Conv2dPlan` and `Q8ConvTransposePlan`
/// must match bit for bit. Direct loops over NHWC UInt8 and OIHW / IOHW Int8, sums in Int64 of
/// `(q - zeroPoint) * w` (padding contributes nothing), then `Q8Requantization`.
public enum Q8Reference {
    /// One image. Output: UInt8 (`.quantized`) or Float (`.float`) per `output`, NHWC.
    public static func conv2d(_ g: Conv2dGeometry, input: [UInt8], inputZeroPoint: UInt8, weights: [Int8], bias: [Int32]?,
                              multipliers: [Float], activation: FusedActivation, output: Q8OutputTarget) -> (q: [UInt8], f: [Float]) {
        let cin = g.inChannels, cout = g.outChannels, oh = g.outHeight, ow = g.outWidth
        var q = [UInt8](repeating: 0, count: oh * ow * cout), f = [Float](repeating: 0, count: oh * ow * cout)
        for oy in 0..<oh {
            for ox in 0..<ow {
                for o in 0..<cout {
                    var acc = Int64(bias?[o] ?? 0)
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                            if ix < 0 || ix >= g.inWidth { continue }
                            for ci in 0..<cin {
                                let x = Int64(input[(iy * g.inWidth + ix) * cin + ci]) - Int64(inputZeroPoint)
                                acc += x * Int64(weights[((o * cin + ci) * g.kernelHeight + ky) * g.kernelWidth + kx])
                            }
                        }
                    }
                    store(acc, o, (oy * ow + ox) * cout + o, multipliers, activation, output, &q, &f)
                }
            }
        }
        return (q, f)
    }

    /// One image of a transposed convolution with kernel == stride and no padding.
    public static func convTranspose2d(_ g: ConvTranspose2dGeometry, input: [UInt8], inputZeroPoint: UInt8, weights: [Int8],
                                       bias: [Int32]?, multipliers: [Float], activation: FusedActivation,
                                       output: Q8OutputTarget) -> (q: [UInt8], f: [Float]) {
        let cin = g.inChannels, cout = g.outChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth
        var q = [UInt8](repeating: 0, count: oh * ow * cout), f = [Float](repeating: 0, count: oh * ow * cout)
        for oy in 0..<oh {
            for ox in 0..<ow {
                let y = oy / g.strideY, ky = oy % g.strideY, x = ox / g.strideX, kx = ox % g.strideX
                for o in 0..<cout {
                    var acc = Int64(bias?[o] ?? 0)
                    for ci in 0..<cin {
                        let v = Int64(input[(y * g.inWidth + x) * cin + ci]) - Int64(inputZeroPoint)
                        acc += v * Int64(weights[((ci * cout + o) * kh + ky) * kw + kx])
                    }
                    store(acc, o, (oy * ow + ox) * cout + o, multipliers, activation, output, &q, &f)
                }
            }
        }
        return (q, f)
    }

    private static func store(_ acc: Int64, _ o: Int, _ index: Int, _ multipliers: [Float], _ activation: FusedActivation,
                              _ output: Q8OutputTarget, _ q: inout [UInt8], _ f: inout [Float]) {
        precondition(acc >= Int64(Int32.min) && acc <= Int64(Int32.max), "int8 reference: accumulator overflows Int32")
        switch output {
        case .quantized(let zp):
            q[index] = Q8Requantization.requantize(Int32(acc), multiplier: multipliers[o], activation: activation, zeroPoint: zp)
        case .float:
            f[index] = activation.apply(Float(Int32(acc)) * multipliers[o])
        }
    }

    /// Max pooling of one image.
    public static func maxPool(_ g: Pool2dGeometry, input: [UInt8]) -> [UInt8] {
        let c = g.channels, oh = g.outHeight, ow = g.outWidth
        var out = [UInt8](repeating: 0, count: oh * ow * c)
        for oy in 0..<oh {
            for ox in 0..<ow {
                for ch in 0..<c {
                    var m: UInt8 = 0
                    for ky in 0..<g.kernel {
                        for kx in 0..<g.kernel {
                            let y = oy * g.stride - g.padding + ky, x = ox * g.stride - g.padding + kx
                            if y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth { m = max(m, input[(y * g.inWidth + x) * c + ch]) }
                        }
                    }
                    out[(oy * ow + ox) * c + ch] = m
                }
            }
        }
        return out
    }
}
