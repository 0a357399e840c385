/// Backward passes of the layers other than convolution, over NHWC images. Each writes (not adds) the
/// input gradient of one image, summing in a fixed order so that results do not depend on threads.
public enum F32LayerBackward {
    /// Max pooling: routes each output gradient to the input position its forward pass recorded in
    /// `indices` (`F32Pooling.maxPool`); overlapping windows add up.
    public static func maxPool(_ g: Pool2dGeometry, outputGradient dy: UnsafePointer<Float>, indices: UnsafePointer<Int32>,
                               inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = g.channels
        dx.update(repeating: 0, count: g.inHeight * g.inWidth * c)
        for p in 0..<(g.outHeight * g.outWidth) {
            for ch in 0..<c {
                let k = p &* c &+ ch
                dx[Int(indices[k]) &* c &+ ch] += dy[k]
            }
        }
    }

    /// Average pooling (`count_include_pad=False`): each output gradient is shared equally by its window.
    public static func averagePool(_ g: Pool2dGeometry, outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = g.channels
        dx.update(repeating: 0, count: g.inHeight * g.inWidth * c)
        for oy in 0..<g.outHeight {
            let ys = g.inputRows(ofOutputRow: oy)
            for ox in 0..<g.outWidth {
                let xs = g.inputColumns(ofOutputColumn: ox)
                spread(dy + (oy * g.outWidth + ox) * c, over: ys, xs, width: g.inWidth, channels: c, into: dx)
            }
        }
    }

    /// Adaptive average pooling to `outHeight x outWidth` bins (PyTorch's bin edges).
    public static func adaptiveAveragePool(_ shape: ImageShape, outHeight: Int, outWidth: Int, outputGradient dy: UnsafePointer<Float>,
                                           inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = shape.channels
        dx.update(repeating: 0, count: shape.height * shape.width * c)
        for oy in 0..<outHeight {
            let y0 = oy * shape.height / outHeight, y1 = ((oy + 1) * shape.height + outHeight - 1) / outHeight
            for ox in 0..<outWidth {
                let x0 = ox * shape.width / outWidth, x1 = ((ox + 1) * shape.width + outWidth - 1) / outWidth
                spread(dy + (oy * outWidth + ox) * c, over: y0..<y1, x0..<x1, width: shape.width, channels: c, into: dx)
            }
        }
    }

    @inline(__always)
    static func spread(_ g: UnsafePointer<Float>, over ys: Range<Int>, _ xs: Range<Int>, width: Int, channels c: Int,
                       into dx: UnsafeMutablePointer<Float>) {
        let inv = 1 / Float(ys.count * xs.count)
        for y in ys {
            for x in xs {
                let row = dx + (y * width + x) * c
                for ch in 0..<c { row[ch] += g[ch] * inv }
            }
        }
    }

    /// Bilinear resize: each output gradient goes to its four source pixels with the forward weights.
    public static func bilinear(_ shape: ImageShape, outHeight: Int, outWidth: Int, alignCorners: Bool,
                                outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = shape.channels, h = shape.height, w = shape.width
        dx.update(repeating: 0, count: h * w * c)
        for oy in 0..<outHeight {
            let (y0, y1, fy) = F32Upsample.bilinearTap(oy, inSize: h, outSize: outHeight, alignCorners: alignCorners)
            for ox in 0..<outWidth {
                let (x0, x1, fx) = F32Upsample.bilinearTap(ox, inSize: w, outSize: outWidth, alignCorners: alignCorners)
                let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
                let g = dy + (oy * outWidth + ox) * c
                let p00 = dx + (y0 * w + x0) * c, p01 = dx + (y0 * w + x1) * c
                let p10 = dx + (y1 * w + x0) * c, p11 = dx + (y1 * w + x1) * c
                for ch in 0..<c {
                    let v = g[ch]
                    p00[ch] += w00 * v
                    p01[ch] += w01 * v
                    p10[ch] += w10 * v
                    p11[ch] += w11 * v
                }
            }
        }
    }

    /// Nearest-neighbour resize: each output gradient goes to its one source pixel.
    public static func nearest(_ shape: ImageShape, outHeight: Int, outWidth: Int, outputGradient dy: UnsafePointer<Float>,
                               inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = shape.channels
        dx.update(repeating: 0, count: shape.height * shape.width * c)
        for oy in 0..<outHeight {
            let sy = min(oy * shape.height / outHeight, shape.height - 1)
            for ox in 0..<outWidth {
                let sx = min(ox * shape.width / outWidth, shape.width - 1)
                let src = dy + (oy * outWidth + ox) * c, dst = dx + (sy * shape.width + sx) * c
                for ch in 0..<c { dst[ch] += src[ch] }
            }
        }
    }

    /// Fused activations, from the forward output `y` (ReLU and LeakyReLU keep its sign; slope > 0):
    /// `dx = dy` where y > 0, else 0 (ReLU) or `slope * dy` (LeakyReLU), over `range`.
    public static func activation(_ activation: FusedActivation, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                  inputGradient dx: UnsafeMutablePointer<Float>, range: Range<Int>) {
        switch activation {
        case .none: for i in range { dx[i] = dy[i] }
        case .relu: for i in range { dx[i] = y[i] > 0 ? dy[i] : 0 }
        case .leakyRelu(let slope): for i in range { dx[i] = y[i] > 0 ? dy[i] : dy[i] * slope }
        }
    }

    /// Sigmoid, from its output: `dx = dy * y * (1 - y)`.
    public static func sigmoid(output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                               inputGradient dx: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }
}
