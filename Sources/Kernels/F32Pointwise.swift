/// NHWC kernels of the per-element and per-channel ops added through the operator registry: clip, PReLU and
/// constant padding, forward and backward. Plain loops the compiler vectorizes; each call covers `range`
/// (elements) or `pixels`, so the caller splits the work over threads.
public enum F32Pointwise {
    /// `y = min(max(x, low), high)`.
    @export(interface)
    public static func clip(_ x: UnsafePointer<Float>, low: Float, high: Float, output y: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { y[i] = min(max(x[i], low), high) }
    }

    /// dX of clip: dY where `low <= x <= high` (PyTorch's `clamp`), 0 elsewhere.
    public static func clipBackward(_ x: UnsafePointer<Float>, low: Float, high: Float, outputGradient dy: UnsafePointer<Float>,
                                    inputGradient dx: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { dx[i] = x[i] >= low && x[i] <= high ? dy[i] : 0 }
    }

    /// `y = x > 0 ? x : slope[c] * x`, with one slope per channel, or one for all (`slopes == 1`).
    @export(interface)
    public static func prelu(_ x: UnsafePointer<Float>, slope: UnsafePointer<Float>, slopes: Int, channels: Int,
                             output y: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
        for p in pixels {
            let base = p * channels
            for c in 0..<channels {
                let v = x[base + c], a = slope[slopes == 1 ? 0 : c]
                y[base + c] = v > 0 ? v : a * v
            }
        }
    }

    /// dX of PReLU over `pixels`, and the slope gradient of those pixels added into `slopeGradient`.
    public static func preluBackward(_ x: UnsafePointer<Float>, slope: UnsafePointer<Float>, slopes: Int, channels: Int,
                                     outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                                     slopeGradient: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
        for p in pixels {
            let base = p * channels
            for c in 0..<channels {
                let v = x[base + c], k = slopes == 1 ? 0 : c
                if v > 0 {
                    dx[base + c] = dy[base + c]
                } else {
                    dx[base + c] = slope[k] * dy[base + c]
                    slopeGradient[k] += dy[base + c] * v
                }
            }
        }
    }

    /// Copies image `x` (`inHeight x inWidth x channels`) into output rows `rows` of the padded image, which is
    /// `value` outside (top, left) .. (top + inHeight, left + inWidth).
    @export(interface)
    public static func pad(_ x: UnsafePointer<Float>, inHeight: Int, inWidth: Int, channels: Int, top: Int, left: Int, value: Float,
                           output y: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int, rows: Range<Int>) {
        for oy in rows {
            let iy = oy - top
            let row = y + oy * outWidth * channels
            if iy < 0 || iy >= inHeight {
                row.update(repeating: value, count: outWidth * channels)
                continue
            }
            row.update(repeating: value, count: left * channels)
            (row + left * channels).update(from: x + iy * inWidth * channels, count: inWidth * channels)
            let right = outWidth - left - inWidth
            (row + (left + inWidth) * channels).update(repeating: value, count: right * channels)
        }
    }

    /// dX of constant padding: the gradient's window over the input.
    public static func crop(_ dy: UnsafePointer<Float>, outHeight: Int, outWidth: Int, channels: Int, top: Int, left: Int,
                            inputGradient dx: UnsafeMutablePointer<Float>, inHeight: Int, inWidth: Int) {
        for iy in 0..<inHeight {
            (dx + iy * inWidth * channels).update(from: dy + ((iy + top) * outWidth + left) * channels, count: inWidth * channels)
        }
    }

    /// A presence gate over the NHWC pixels `range` of one image: channel `c` passes `x` through where `open[c]`
    /// and is `closed` elsewhere (UNet 3+'s classification-guided module closes the classes an image lacks).
    @export(interface)
    public static func gate(_ x: UnsafePointer<Float>, open: UnsafePointer<Bool>, channels c: Int, closed: Float,
                            output y: UnsafeMutablePointer<Float>, pixels range: Range<Int>) {
        for p in range {
            for ch in 0..<c { y[p * c + ch] = open[ch] ? x[p * c + ch] : closed }
        }
    }
}
