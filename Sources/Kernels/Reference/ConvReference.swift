/// Plain reference convolutions: straightforward loops that accumulate in Float64.
/// They are the specification the optimized kernels are tested against. NHWC in and out.
public enum ConvReference {
    /// Convolution of a batch (`input` NHWC) with OIHW `weights`, any groups, stride, dilation, padding.
    public static func conv2d(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, activation: FusedActivation) -> [Double] {
        let oh = g.outHeight, ow = g.outWidth
        let cinPerGroup = g.inChannels / g.groups, coutPerGroup = g.outChannels / g.groups
        var out = [Double](repeating: 0, count: g.batch * oh * ow * g.outChannels)
        for n in 0..<g.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<g.outChannels {
                        let group = o / coutPerGroup
                        var acc: Double = bias.map { Double($0[o]) } ?? 0
                        for ky in 0..<g.kernelHeight {
                            let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                            if iy < 0 || iy >= g.inHeight { continue }
                            for kx in 0..<g.kernelWidth {
                                let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                                if ix < 0 || ix >= g.inWidth { continue }
                                for i in 0..<cinPerGroup {
                                    let ci = group * cinPerGroup + i
                                    let x = input[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci]
                                    let w = weights[((o * cinPerGroup + i) * g.kernelHeight + ky) * g.kernelWidth + kx]
                                    acc += Double(x) * Double(w)
                                }
                            }
                        }
                        out[((n * oh + oy) * ow + ox) * g.outChannels + o] = activation.apply(acc)
                    }
                }
            }
        }
        return out
    }

    /// Transposed convolution (PyTorch `ConvTranspose2d`): weights `[inChannels][outChannels][kH][kW]`,
    /// output size `(in - 1) * stride - padBegin - padEnd + dilation * (k - 1) + 1 + outputPadding`.
    public static func convTranspose2d(_ g: ConvTranspose2dGeometry, input: UnsafePointer<Float>,
                                       weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       activation: FusedActivation) -> [Double] {
        let oh = g.outHeight, ow = g.outWidth
        var out = [Double](repeating: 0, count: g.batch * oh * ow * g.outChannels)
        for n in 0..<g.batch {
            for iy in 0..<g.inHeight {
                for ix in 0..<g.inWidth {
                    for ky in 0..<g.kernelHeight {
                        let oy = iy * g.strideY - g.padTop + ky * g.dilationY
                        if oy < 0 || oy >= oh { continue }
                        for kx in 0..<g.kernelWidth {
                            let ox = ix * g.strideX - g.padLeft + kx * g.dilationX
                            if ox < 0 || ox >= ow { continue }
                            for i in 0..<g.inChannels {
                                let x = Double(input[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + i])
                                for o in 0..<g.outChannels {
                                    let w = weights[((i * g.outChannels + o) * g.kernelHeight + ky) * g.kernelWidth + kx]
                                    out[((n * oh + oy) * ow + ox) * g.outChannels + o] += x * Double(w)
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in 0..<out.count {
            let o = i % g.outChannels
            out[i] = activation.apply(out[i] + (bias.map { Double($0[o]) } ?? 0))
        }
        return out
    }
}
