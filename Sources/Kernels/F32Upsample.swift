/// Resampling of NHWC images to any size, with PyTorch's coordinate conventions.
public enum F32Upsample {
    /// Source coordinate of output position `dst` when resizing `inSize -> outSize` (bilinear).
    /// align_corners true:  `dst * (in - 1) / (out - 1)`;  false: `(dst + 0.5) * in / out - 0.5`, clamped at 0.
    @inline(__always)
    public static func sourceCoordinate(_ dst: Int, inSize: Int, outSize: Int, alignCorners: Bool) -> Double {
        if alignCorners {
            return outSize > 1 ? Double(dst) * Double(inSize - 1) / Double(outSize - 1) : 0
        }
        return max(0, (Double(dst) + 0.5) * Double(inSize) / Double(outSize) - 0.5)
    }

    /// The two source indices and the weight of the second for output position `dst` (bilinear), shared by
    /// the fp32 and int8 kernels and the backward pass so that they sample alike.
    @inline(__always)
    public static func bilinearTap(_ dst: Int, inSize: Int, outSize: Int, alignCorners: Bool) -> (i0: Int, i1: Int, fraction: Float) {
        let s = sourceCoordinate(dst, inSize: inSize, outSize: outSize, alignCorners: alignCorners)
        let i0 = min(Int(s), inSize - 1)
        return (i0, min(i0 + 1, inSize - 1), Float(s - Double(i0)))
    }

    /// Output size for a scale factor, as PyTorch computes it: `floor(inSize * scale)`, at least 1.
    /// The kernels then map coordinates with `inSize / outSize` (PyTorch's `recompute_scale_factor=True`).
    public static func outputSize(_ inSize: Int, scale: Double) -> Int {
        precondition(scale > 0, "upsampling scale must be positive, got \(scale)")
        return max(1, Int((Double(inSize) * scale).rounded(.down)))
    }

    /// Bilinear resize of one image, output rows `rows`.
    @export(interface)
    public static func bilinear(_ shape: ImageShape, outHeight: Int, outWidth: Int, alignCorners: Bool,
                                input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let c = shape.channels, h = shape.height, w = shape.width
        for oy in rows {
            let (y0, y1, fy) = bilinearTap(oy, inSize: h, outSize: outHeight, alignCorners: alignCorners)
            for ox in 0..<outWidth {
                let (x0, x1, fx) = F32Upsample.bilinearTap(ox, inSize: w, outSize: outWidth, alignCorners: alignCorners)
                let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
                let p00 = input + (y0 * w + x0) * c, p01 = input + (y0 * w + x1) * c
                let p10 = input + (y1 * w + x0) * c, p11 = input + (y1 * w + x1) * c
                let dst = output + (oy * outWidth + ox) * c
                for ch in 0..<c {
                    dst[ch] = w00 * p00[ch] + w01 * p01[ch] + w10 * p10[ch] + w11 * p11[ch]
                }
            }
        }
    }

    /// Source index of output position `dst` for nearest-neighbour resizing (PyTorch `mode="nearest"`:
    /// `floor(dst * in / out)`), shared by every nearest resize (label maps, pictures) so that they sample alike.
    @inline(__always)
    public static func nearestSource(_ dst: Int, inSize: Int, outSize: Int) -> Int { min(dst * inSize / outSize, inSize - 1) }

    /// Nearest-neighbour resize of one image (`nearestSource`).
    @export(interface)
    public static func nearest(_ shape: ImageShape, outHeight: Int, outWidth: Int,
                               input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let c = shape.channels
        for oy in rows {
            let sy = nearestSource(oy, inSize: shape.height, outSize: outHeight)
            for ox in 0..<outWidth {
                let sx = nearestSource(ox, inSize: shape.width, outSize: outWidth)
                (output + (oy * outWidth + ox) * c).update(from: input + (sy * shape.width + sx) * c, count: c)
            }
        }
    }
}
