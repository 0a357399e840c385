/// Pooling over NHWC images. Channel loops are plain loops over contiguous floats, which LLVM
/// vectorizes; these kernels are bound by memory, not arithmetic.
public struct Pool2dGeometry: Equatable, Hashable, Sendable {
    public var batch: Int
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(batch: Int = 1, channels: Int, inHeight: Int, inWidth: Int, kernel: Int = 2, stride: Int = 2, padding: Int = 0) {
        self.batch = batch
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// Floor mode, as PyTorch's default.
    public var outHeight: Int { (inHeight + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernel) / stride + 1 }
    /// The input rows the window of output row `oy` covers inside the image (padding excluded; never empty for
    /// a valid geometry, whose padding is at most half the kernel).
    @inline(__always)
    public func inputRows(ofOutputRow oy: Int) -> Range<Int> {
        max(0, oy &* stride &- padding)..<min(inHeight, oy &* stride &- padding &+ kernel)
    }
    /// The input columns the window of output column `ox` covers inside the image.
    @inline(__always)
    public func inputColumns(ofOutputColumn ox: Int) -> Range<Int> {
        max(0, ox &* stride &- padding)..<min(inWidth, ox &* stride &- padding &+ kernel)
    }
    public var inputShape: ImageShape { ImageShape(batch: batch, channels: channels, height: inHeight, width: inWidth) }
    public var outputShape: ImageShape { ImageShape(batch: batch, channels: channels, height: outHeight, width: outWidth) }

    public func validate() -> ShapeError? {
        for (name, v) in [("batch", batch), ("channels", channels), ("inHeight", inHeight), ("inWidth", inWidth),
                          ("kernel", kernel), ("stride", stride)] where v <= 0 {
            return .nonPositive(name, v)
        }
        if padding < 0 { return .negativePadding("padding", padding) }
        if 2 * padding > kernel { return .mismatch("pool padding \(padding) is more than half the kernel \(kernel)") }
        // Checked before outHeight: Swift's division truncates toward zero, so (1 - 2) / 2 + 1 == 1.
        if inHeight + 2 * padding < kernel || inWidth + 2 * padding < kernel {
            return .kernelLargerThanInput(kernel: "\(kernel)x\(kernel)", paddedInput: "\(inHeight + 2 * padding)x\(inWidth + 2 * padding)")
        }
        return nil
    }
}

public enum F32Pooling {
    /// Max pooling of one image, output rows `rows`. `indices`, when given, receives for every output
    /// element the flat input position `iy * inWidth + ix` of its maximum (the first one on ties),
    /// as PyTorch's `return_indices` does; training routes gradients through it.
    @export(interface)
    public static func maxPool(_ g: Pool2dGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                               indices: UnsafeMutablePointer<Int32>?, rows: Range<Int>) {
        let c = g.channels, ow = g.outWidth
        if indices == nil && c >= 16 {
            maxPoolValues(g, input: input, output: output, rows: rows)
            return
        }
        for oy in rows {
            for ox in 0..<ow {
                let dst = output + (oy * ow + ox) * c
                let idx = indices.map { $0 + (oy * ow + ox) * c }
                var first = true
                for ky in 0..<g.kernel {
                    let iy = oy * g.stride - g.padding + ky
                    if iy < 0 || iy >= g.inHeight { continue }
                    for kx in 0..<g.kernel {
                        let ix = ox * g.stride - g.padding + kx
                        if ix < 0 || ix >= g.inWidth { continue }
                        let src = input + (iy * g.inWidth + ix) * c
                        let position = Int32(truncatingIfNeeded: iy * g.inWidth + ix)
                        if first {
                            dst.update(from: src, count: c)
                            if let idx { idx.update(repeating: position, count: c) }
                            first = false
                        } else if let idx {
                            for ch in 0..<c where src[ch] > dst[ch] || src[ch].isNaN {
                                dst[ch] = src[ch]
                                idx[ch] = position
                            }
                        } else {
                            for ch in 0..<c { let v = src[ch]; dst[ch] = v > dst[ch] ? v : dst[ch] }
                        }
                    }
                }
            }
        }
    }

    /// `maxPool` without indices, 16 channels at a time in registers: each output is its window's first value,
    /// replaced by every later one that is greater, in the same order as the general loop (the same bits).
    static func maxPoolValues(_ g: Pool2dGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        typealias V = SIMD16<Float>
        let c = g.channels, ow = g.outWidth
        for oy in rows {
            let ys = g.inputRows(ofOutputRow: oy)
            for ox in 0..<ow {
                let xs = g.inputColumns(ofOutputColumn: ox)
                let dst = output + (oy * ow + ox) * c
                let corner = input + (ys.lowerBound * g.inWidth + xs.lowerBound) * c
                var ch = 0
                while ch &+ 16 <= c {
                    var best = UnsafeRawPointer(corner + ch).loadUnaligned(as: V.self)
                    var first = true
                    for iy in ys {
                        var src = input + (iy * g.inWidth + xs.lowerBound) * c + ch
                        for _ in xs {
                            if first { first = false } else {
                                let v = UnsafeRawPointer(src).loadUnaligned(as: V.self)
                                best.replace(with: v, where: v .> best)
                            }
                            src += c
                        }
                    }
                    UnsafeMutableRawPointer(dst + ch).storeBytes(of: best, as: V.self)
                    ch &+= 16
                }
                while ch < c {
                    var best = corner[ch], first = true
                    for iy in ys {
                        for ix in xs {
                            let v = input[(iy * g.inWidth + ix) * c + ch]
                            if first { first = false } else if v > best { best = v }
                        }
                    }
                    dst[ch] = best
                    ch &+= 1
                }
            }
        }
    }

    /// Average pooling of one image; padded positions are not counted (`count_include_pad=False`).
    @export(interface)
    public static func averagePool(_ g: Pool2dGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                   rows: Range<Int>) {
        let c = g.channels, ow = g.outWidth
        for oy in rows {
            let ys = g.inputRows(ofOutputRow: oy)
            for ox in 0..<ow {
                let xs = g.inputColumns(ofOutputColumn: ox)
                averageWindow(input, width: g.inWidth, channels: c, ys, xs, into: output + (oy * ow + ox) * c)
            }
        }
    }

    /// Adaptive average pooling of one image to `outHeight x outWidth` bins (PyTorch's bin edges:
    /// `floor(i * in / out) ..< ceil((i + 1) * in / out)`). Bins 1, 2, 3 and 6 make PSPNet's pyramid;
    /// 1x1 is global average pooling.
    @export(interface)
    public static func adaptiveAveragePool(_ shape: ImageShape, outHeight: Int, outWidth: Int,
                                           input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        precondition(outHeight > 0 && outWidth > 0, "adaptive pool needs positive bins, got \(outHeight)x\(outWidth)")
        let c = shape.channels
        for oy in 0..<outHeight {
            let y0 = oy * shape.height / outHeight, y1 = ((oy + 1) * shape.height + outHeight - 1) / outHeight
            for ox in 0..<outWidth {
                let x0 = ox * shape.width / outWidth, x1 = ((ox + 1) * shape.width + outWidth - 1) / outWidth
                averageWindow(input, width: shape.width, channels: c, y0..<y1, x0..<x1, into: output + (oy * outWidth + ox) * c)
            }
        }
    }

    @inline(__always)
    static func averageWindow(_ input: UnsafePointer<Float>, width: Int, channels c: Int, _ ys: Range<Int>, _ xs: Range<Int>,
                              into dst: UnsafeMutablePointer<Float>) {
        dst.update(repeating: 0, count: c)
        for y in ys {
            for x in xs {
                let src = input + (y * width + x) * c
                for ch in 0..<c { dst[ch] += src[ch] }
            }
        }
        let scale = 1 / Float(max(1, ys.count * xs.count))
        for ch in 0..<c { dst[ch] *= scale }
    }

    /// Global max pooling of one NHWC image: `output[c]` is the largest of `input[p * channels + c]` over the
    /// `pixels` pixels (a NaN in a channel gives NaN, as PyTorch's max does). The first pixel holding it is what
    /// `globalMaxPoolBackward` routes the gradient to.
    @export(interface)
    public static func globalMaxPool(_ input: UnsafePointer<Float>, pixels: Int, channels c: Int, output: UnsafeMutablePointer<Float>) {
        precondition(pixels > 0, "global max pooling needs at least one pixel")
        output.update(from: input, count: c)
        for p in 1..<pixels {
            let src = input + p * c
            for ch in 0..<c where src[ch] > output[ch] || src[ch].isNaN { output[ch] = src[ch] }
        }
    }

    /// The gradient of `globalMaxPool`: `dy[c]` goes to the first pixel holding channel c's maximum `y[c]`, zero
    /// elsewhere. Writes every element of `dx` (pixels x channels, NHWC).
    public static func globalMaxPoolBackward(_ input: UnsafePointer<Float>, pixels: Int, channels c: Int, maximum y: UnsafePointer<Float>,
                                             outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: pixels * c)
        for ch in 0..<c {
            var p = 0
            while p < pixels - 1 && !input[p * c + ch].isIdentical(to: y[ch]) { p += 1 }
            dx[p * c + ch] = dy[ch]
        }
    }
}

extension Float {
    /// The same value, NaN matching NaN (where `==` says no).
    @inline(__always)
    func isIdentical(to other: Float) -> Bool { self == other || (isNaN && other.isNaN) }
}
