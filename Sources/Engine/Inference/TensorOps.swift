import Kernels

/// Small whole-tensor helpers for the inference pipeline (NCHW).
public enum TensorOps {
    /// Pads H and W at the bottom and right with zeros up to multiples of `multiple`.
    public static func padToMultiple(_ x: Tensor, _ multiple: Int) -> Tensor {
        let s = x.shape
        let h = (s.height + multiple - 1) / multiple * multiple, w = (s.width + multiple - 1) / multiple * multiple
        if h == s.height && w == s.width { return x }
        var out = Tensor(zeros: TensorShape(batch: s.batch, channels: s.channels, height: h, width: w))
        for nc in 0..<(s.batch * s.channels) {
            for y in 0..<s.height {
                for xx in 0..<s.width { out.data[(nc * h + y) * w + xx] = x.data[(nc * s.height + y) * s.width + xx] }
            }
        }
        return out
    }

    /// The region rows `y0..<y0+height`, columns `x0..<x0+width` of every image and channel.
    public static func crop(_ x: Tensor, y0: Int = 0, x0: Int = 0, height: Int, width: Int) -> Tensor {
        let s = x.shape
        if y0 == 0 && x0 == 0 && height == s.height && width == s.width { return x }
        var out = Tensor(zeros: TensorShape(batch: s.batch, channels: s.channels, height: height, width: width))
        for nc in 0..<(s.batch * s.channels) {
            for y in 0..<height {
                for xx in 0..<width { out.data[(nc * height + y) * width + xx] = x.data[(nc * s.height + y0 + y) * s.width + x0 + xx] }
            }
        }
        return out
    }

    /// Bilinear resize of every image and channel (align_corners false).
    public static func resize(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let s = x.shape
        if s.height == height && s.width == width { return x }
        var out = Tensor(zeros: TensorShape(batch: s.batch, channels: s.channels, height: height, width: width))
        let plane = ImageShape(batch: 1, channels: 1, height: s.height, width: s.width)
        x.data.withUnsafeBufferPointer { src in out.data.withUnsafeMutableBufferPointer { dst in
            for k in 0..<(s.batch * s.channels) {
                F32Upsample.bilinear(plane, outHeight: height, outWidth: width, alignCorners: false,
                                     input: src.baseAddress! + k * s.height * s.width, output: dst.baseAddress! + k * height * width, rows: 0..<height)
            }
        } }
        return out
    }

    /// Mirrors H (vertical) and/or W (horizontal).
    public static func flip(_ x: Tensor, vertical: Bool, horizontal: Bool) -> Tensor {
        let s = x.shape
        var out = x
        for nc in 0..<(s.batch * s.channels) {
            for y in 0..<s.height {
                let sy = vertical ? s.height - 1 - y : y
                for xx in 0..<s.width {
                    let sx = horizontal ? s.width - 1 - xx : xx
                    out.data[(nc * s.height + y) * s.width + xx] = x.data[(nc * s.height + sy) * s.width + sx]
                }
            }
        }
        return out
    }

    /// Sigmoid for one channel, softmax over channels otherwise.
    /// `threads` split the pixels (each pixel's arithmetic is the same, so the bits are too).
    public static func probabilities(fromLogits x: Tensor, multilabel: Bool = false, threads: Int = 1) -> Tensor {
        var out = x
        applyProbabilities(&out, multilabel: multilabel, threads: threads)
        return out
    }

    /// `probabilities(fromLogits:multilabel:threads:)` in place: the logits in `x` become probabilities, with
    /// no second tensor of their size (a whole volume's class maps are hundreds of MB).
    public static func applyProbabilities(_ x: inout Tensor, multilabel: Bool = false, threads: Int = 1) {
        let s = x.shape, hw = s.pixelsPerImage, c = s.channels
        let blocks = (x.data.count + 4095) / 4096
        x.data.withUnsafeMutableBufferPointer { xp in
            let v = xp.baseAddress!, count = xp.count
            if c == 1 || multilabel {
                ParallelFor.run(count: blocks, threads: threads) { range, _ in
                    for i in (range.lowerBound * 4096)..<min(count, range.upperBound * 4096) { v[i] = Exp.sigmoid(v[i]) }
                }
                return
            }
            ParallelFor.run(count: s.batch * ((hw + 4095) / 4096), threads: threads) { range, _ in
                let perImage = (hw + 4095) / 4096
                for block in range {
                    let n = block / perImage, first = (block % perImage) * 4096
                    for p in first..<min(hw, first + 4096) {
                        let base = n * c * hw + p
                        var m = v[base]
                        for k in 1..<c { m = max(m, v[base + k * hw]) }
                        var sum: Float = 0
                        for k in 0..<c { let e = Exp.float(v[base + k * hw] - m); v[base + k * hw] = e; sum += e }
                        for k in 0..<c { v[base + k * hw] /= sum }
                    }
                }
            }
        }
    }

    /// The labels `model` makes of its probabilities: label bits with its per-label thresholds for a multi-label
    /// model, else a binary mask at its threshold or the argmax class.
    public static func labels(_ probabilities: Tensor, of model: Model) -> [UInt8] {
        model.isMultilabel ? labelBits(probabilities, thresholds: model.thresholds) : labels(probabilities, threshold: model.threshold)
    }

    /// The labels of a multi-label model's probabilities (N x C x [D x] H x W, C <= 8): per pixel, bit c is set
    /// where label c's probability reaches `thresholds[c]`. Returns N x [D x] H x W.
    public static func labelBits(_ probabilities: Tensor, thresholds: [Float]) -> [UInt8] {
        let s = probabilities.shape, hw = s.pixelsPerImage
        precondition(s.channels <= 8 && thresholds.count == s.channels, "label bits: up to 8 labels, one threshold each")
        var out = [UInt8](repeating: 0, count: s.batch * hw)
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                let plane = (n * s.channels + c) * hw, bit = UInt8(1) << UInt8(c), t = thresholds[c]
                for p in 0..<hw where probabilities.data[plane + p] >= t { out[n * hw + p] |= bit }
            }
        }
        return out
    }

    /// Per pixel: 1 where the probability reaches `threshold` (one channel), else the argmax class.
    /// Returns N x [D x] H x W class ids.
    public static func labels(_ probabilities: Tensor, threshold: Float) -> [UInt8] {
        let s = probabilities.shape, hw = s.pixelsPerImage
        var out = [UInt8](repeating: 0, count: s.batch * hw)
        for n in 0..<s.batch {
            for p in 0..<hw {
                let base = n * s.channels * hw + p
                if s.channels == 1 {
                    out[n * hw + p] = probabilities.data[base] >= threshold ? 1 : 0
                } else {
                    var best = 0
                    for c in 1..<s.channels where probabilities.data[base + c * hw] > probabilities.data[base + best * hw] { best = c }
                    out[n * hw + p] = UInt8(truncatingIfNeeded: best)
                }
            }
        }
        return out
    }
}
