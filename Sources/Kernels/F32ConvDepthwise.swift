/// Depthwise convolution (`f32-dwconv-(W)`, groups == channels), vectorized across channels.
///
/// Input: one NHWC image zero-padded by `F32Pad`; output: one NHWC image. Any kernel size,
/// stride and dilation. Weights are packed `[tap][channel]` (channels padded to the vector width).
public enum F32ConvDepthwise {
    public struct PackedWeights {
        public let data: AlignedBuffer
        public let bias: AlignedBuffer
        public let channels: Int
        public let paddedChannels: Int
        public let taps: Int

        /// `weights` is OIHW with I == 1: `[channel][ky][kx]`.
        public init(oihw weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, channels: Int, taps: Int) {
            self.channels = channels
            self.taps = taps
            paddedChannels = roundUp(channels, toMultipleOf: 16)
            data = AlignedBuffer(count: taps * paddedChannels)
            self.bias = AlignedBuffer(count: paddedChannels)
            for c in 0..<channels {
                for t in 0..<taps { data.pointer[t * paddedChannels + c] = weights[c * taps + t] }
                if let bias { self.bias.pointer[c] = bias[c] }
            }
        }
    }

    /// Output rows of one image are the work items.
    public static func rowCount(_ g: Conv2dGeometry) -> Int { g.outHeight }

    public static func run(_ g: Conv2dGeometry, weights: PackedWeights,
                           paddedInput: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                           rows: Range<Int>, activation: FusedActivation) {
        if CompiledISA.tileWidth == 16 {
            run(SIMD16<Float>.self, g, weights, paddedInput, output, rows, activation)
        } else {
            run(SIMD8<Float>.self, g, weights, paddedInput, output, rows, activation)
        }
    }

    @inline(__always)
    static func run<V: SIMD>(_: V.Type, _ g: Conv2dGeometry, _ weights: PackedWeights,
                             _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                             _ rows: Range<Int>, _ activation: FusedActivation) where V.Scalar == Float {
        let c = g.inChannels, pw = g.paddedWidth, w = V.scalarCount
        let cp = weights.paddedChannels
        let kw = g.kernelWidth
        let stepY: Int = g.dilationY * pw * c, stepX: Int = g.dilationX * c
        let wBase = weights.data.constPointer, bBase = weights.bias.constPointer
        for oy in rows {
            for ox in 0..<g.outWidth {
                let cornerOffset: Int = ((oy * g.strideY) * pw + ox * g.strideX) * c
                let corner: UnsafePointer<Float> = input + cornerOffset
                let dstOffset: Int = (oy * g.outWidth + ox) * c
                let dst: UnsafeMutablePointer<Float> = output + dstOffset
                var ch = 0
                while ch < c {
                    let lanes = min(w, c - ch)
                    var acc: V = (bBase + ch).loadVector(V.self)
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<kw {
                            let srcOffset: Int = ky * stepY + kx * stepX + ch
                            let wOffset: Int = (ky * kw + kx) * cp + ch
                            let x: V = (corner + srcOffset).loadVector(V.self, count: lanes)
                            let wv: V = (wBase + wOffset).loadVector(V.self)
                            acc = acc.addingProduct(x, wv)
                        }
                    }
                    (dst + ch).storeVector(activation.apply(acc), count: lanes)
                    ch += w
                }
            }
        }
    }
}
