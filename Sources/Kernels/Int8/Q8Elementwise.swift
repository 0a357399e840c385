/// Int8 conversions and elementwise layers over NHWC UInt8 tensors. Every result follows the
/// arithmetic of `Q8Requantization` (float multiply, clamp, round half to even).
public enum Q8Elementwise {
    // The range loops below run 8 lanes at a time through `Q8Requantization.round` (the same float operations
    // in the same order as the scalar specs, which finish each range), so they equal the specs bit for bit.

    @inline(__always)
    static func load8(_ p: UnsafePointer<UInt8>) -> SIMD8<Int32> {
        Q8Lanes.widen(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt8>.self))
    }

    @inline(__always)
    static func store8(_ v: SIMD8<UInt8>, _ p: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<UInt8>.self)
    }

    /// Float to UInt8 over `range` (`Q8Requantization.quantize` per value; NaN gives the zero point).
    @export(interface)
    public static func quantize(_ x: UnsafePointer<Float>, _ p: Q8TensorParameters, output: UnsafeMutablePointer<UInt8>, range: Range<Int>) {
        let inverse = p.inverseScale
        var i = range.lowerBound
        while i &+ 8 <= range.upperBound {
            // NaN to 0 before `round`'s clamp (the spec clamps first, then maps NaN to 0; 0 is inside the clamp).
            var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * inverse
            v = v.replacing(with: 0, where: v .!= v)
            store8(Q8Requantization.round(v, activation: .none, zeroPoint: p.zeroPoint), output + i)
            i &+= 8
        }
        while i < range.upperBound {
            output[i] = Q8Requantization.quantize(x[i], inverseScale: inverse, zeroPoint: p.zeroPoint)
            i &+= 1
        }
    }

    /// UInt8 to Float over `range`.
    @export(interface)
    public static func dequantize(_ q: UnsafePointer<UInt8>, _ p: Q8TensorParameters, output: UnsafeMutablePointer<Float>, range: Range<Int>) {
        let scale = p.scale, zp = p.zeroPoint
        var i = range.lowerBound
        while i &+ 8 <= range.upperBound {
            let v = Q8Lanes.float(load8(q + i) &- zp) * scale
            UnsafeMutableRawPointer(output + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < range.upperBound {
            output[i] = Float(Int32(q[i]) &- zp) * scale
            i &+= 1
        }
    }

    /// Re-expresses values of `from` in `to`: `(q - zFrom) * (sFrom / sTo)`, requantized.
    @inline(__always)
    public static func requantize(_ q: UInt8, from: Q8TensorParameters, to: Q8TensorParameters) -> UInt8 {
        Q8Requantization.requantize(Int32(q) &- from.zeroPoint, multiplier: from.scale / to.scale, activation: .none,
                                    zeroPoint: to.zeroPoint)
    }

    /// `activation(a + b)`, each operand in its own parameters, the sum in `output`'s.
    @export(interface)
    public static func add(_ a: UnsafePointer<UInt8>, _ pa: Q8TensorParameters, _ b: UnsafePointer<UInt8>, _ pb: Q8TensorParameters,
                           output: UnsafeMutablePointer<UInt8>, _ po: Q8TensorParameters, activation: FusedActivation, range: Range<Int>) {
        let ma = pa.scale / po.scale, mb = pb.scale / po.scale
        var i = range.lowerBound
        while i &+ 8 <= range.upperBound {
            let va = Q8Lanes.float(load8(a + i) &- pa.zeroPoint) * ma
            let vb = Q8Lanes.float(load8(b + i) &- pb.zeroPoint) * mb
            store8(Q8Requantization.round(va + vb, activation: activation, zeroPoint: po.zeroPoint), output + i)
            i &+= 8
        }
        while i < range.upperBound {
            output[i] = addOne(a[i], pa, b[i], pb, po, activation)
            i &+= 1
        }
    }

    /// The scalar spec of `add`: `v = Float(a - za) * (sa / so) + Float(b - zb) * (sb / so)`, then the
    /// activation, clamp and round of `Q8Requantization`.
    @inline(__always)
    public static func addOne(_ a: UInt8, _ pa: Q8TensorParameters, _ b: UInt8, _ pb: Q8TensorParameters,
                              _ po: Q8TensorParameters, _ activation: FusedActivation) -> UInt8 {
        let ma = pa.scale / po.scale, mb = pb.scale / po.scale
        var v = Float(Int32(a) &- pa.zeroPoint) * ma
        v = v + Float(Int32(b) &- pb.zeroPoint) * mb
        v = activation.apply(v)
        v = min(max(v, Float(-po.zeroPoint)), Float(255 &- po.zeroPoint))
        return UInt8(truncatingIfNeeded: Int32(v.rounded(.toNearestOrEven)) &+ po.zeroPoint)
    }

    /// Channel concatenation of pixels `pixels`: parts in the output's parameters are copied, the others
    /// requantized. `parts` are (pointer, channels, parameters).
    @export(interface)
    public static func concat(_ parts: [(UnsafePointer<UInt8>, Int, Q8TensorParameters)], output: UnsafeMutablePointer<UInt8>,
                              _ po: Q8TensorParameters, pixels: Range<Int>) {
        var total = 0
        for part in parts { total += part.1 }
        var offset = 0
        for (src, c, p) in parts {
            if p == po && c & 15 == 0 {
                // Whole groups of 16 channels: copied as vectors (a memmove call per pixel cost more than the copy).
                for px in pixels {
                    let from = UnsafeRawPointer(src + px &* c), to = UnsafeMutableRawPointer(output + (px &* total &+ offset))
                    var k = 0
                    while k < c {
                        to.storeBytes(of: from.loadUnaligned(fromByteOffset: k, as: SIMD16<UInt8>.self), toByteOffset: k, as: SIMD16<UInt8>.self)
                        k &+= 16
                    }
                }
            } else if p == po {
                for px in pixels { (output + (px &* total &+ offset)).update(from: src + px &* c, count: c) }
            } else {
                for px in pixels {
                    requantize(src + px &* c, from: p, output: output + (px &* total &+ offset), to: po, range: 0..<c)
                }
            }
            offset += c
        }
    }

    /// Requantizes a whole range to other parameters (when a tensor feeds a consumer that needs another scale).
    @export(interface)
    public static func requantize(_ q: UnsafePointer<UInt8>, from: Q8TensorParameters, output: UnsafeMutablePointer<UInt8>,
                                  to: Q8TensorParameters, range: Range<Int>) {
        let multiplier = from.scale / to.scale
        var i = range.lowerBound
        while i &+ 8 <= range.upperBound {
            store8(Q8Requantization.requantize(load8(q + i) &- from.zeroPoint, multiplier: SIMD8(repeating: multiplier), activation: .none,
                                               zeroPoint: to.zeroPoint), output + i)
            i &+= 8
        }
        while i < range.upperBound {
            output[i] = requantize(q[i], from: from, to: to)
            i &+= 1
        }
    }
}

/// Int8 pooling and resampling over NHWC UInt8 images. Max pooling and nearest resampling keep the
/// input's parameters exactly; bilinear interpolates in float and rounds half to even.
public enum Q8Resampling {
    /// Max pooling of one image, output rows `rows`; padding never wins (as PyTorch's -inf padding).
    @export(interface)
    public static func maxPool(_ g: Pool2dGeometry, input: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, rows: Range<Int>) {
        let c = g.channels, ow = g.outWidth
        if g.kernel == 2 && g.stride == 2 && g.padding == 0 && c & 15 == 0 {
            // The U-Net down-step: every window is 2x2 inside the image; 16 channels of its 4 pixels at a time.
            let rowBytes = g.inWidth &* c
            for oy in rows {
                var src = UnsafeRawPointer(input + 2 &* oy &* rowBytes)
                var dst = UnsafeMutableRawPointer(output + oy &* ow &* c)
                for _ in 0..<ow {
                    var ch = 0
                    while ch < c {
                        let m = Q8Lanes.max(Q8Lanes.max(src.loadUnaligned(fromByteOffset: ch, as: SIMD16<UInt8>.self),
                                                          src.loadUnaligned(fromByteOffset: ch &+ c, as: SIMD16<UInt8>.self)),
                                             Q8Lanes.max(src.loadUnaligned(fromByteOffset: rowBytes &+ ch, as: SIMD16<UInt8>.self),
                                                          src.loadUnaligned(fromByteOffset: rowBytes &+ c &+ ch, as: SIMD16<UInt8>.self)))
                        dst.storeBytes(of: m, toByteOffset: ch, as: SIMD16<UInt8>.self)
                        ch &+= 16
                    }
                    src += 2 &* c
                    dst += c
                }
            }
            return
        }
        for oy in rows {
            let ys = g.inputRows(ofOutputRow: oy)
            for ox in 0..<ow {
                let xs = g.inputColumns(ofOutputColumn: ox)
                let dst = output + (oy * ow + ox) * c
                dst.update(from: input + (ys.lowerBound * g.inWidth + xs.lowerBound) * c, count: c)
                for y in ys {
                    for x in xs {
                        let src = input + (y * g.inWidth + x) * c
                        var ch = 0
                        while ch + 16 <= c {
                            let v = UnsafeRawPointer(src + ch).loadUnaligned(as: SIMD16<UInt8>.self)
                            let m = UnsafeRawPointer(dst + ch).loadUnaligned(as: SIMD16<UInt8>.self)
                            UnsafeMutableRawPointer(dst + ch).storeBytes(of: Q8Lanes.max(v, m), as: SIMD16<UInt8>.self)
                            ch += 16
                        }
                        while ch < c { dst[ch] = max(dst[ch], src[ch]); ch += 1 }
                    }
                }
            }
        }
    }

    /// Nearest-neighbour resize of one image (PyTorch's `floor(dst * in / out)`), rows `rows`.
    @export(interface)
    public static func nearest(_ shape: ImageShape, outHeight: Int, outWidth: Int, input: UnsafePointer<UInt8>,
                               output: UnsafeMutablePointer<UInt8>, rows: Range<Int>) {
        let c = shape.channels
        for oy in rows {
            let sy = min(oy * shape.height / outHeight, shape.height - 1)
            for ox in 0..<outWidth {
                let sx = min(ox * shape.width / outWidth, shape.width - 1)
                (output + (oy * outWidth + ox) * c).update(from: input + (sy * shape.width + sx) * c, count: c)
            }
        }
    }

    /// Bilinear resize of one image in the input's parameters: `q = round(sum of w_i * q_i)` in float,
    /// with PyTorch's coordinates (`F32Upsample.sourceCoordinate`), rows `rows`.
    @export(interface)
    public static func bilinear(_ shape: ImageShape, outHeight: Int, outWidth: Int, alignCorners: Bool,
                                input: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, rows: Range<Int>) {
        let c = shape.channels, h = shape.height, w = shape.width
        for oy in rows {
            let (y0, y1, fy) = F32Upsample.bilinearTap(oy, inSize: h, outSize: outHeight, alignCorners: alignCorners)
            for ox in 0..<outWidth {
                let (x0, x1, fx) = F32Upsample.bilinearTap(ox, inSize: w, outSize: outWidth, alignCorners: alignCorners)
                let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
                let p00 = input + (y0 * w + x0) * c, p01 = input + (y0 * w + x1) * c
                let p10 = input + (y1 * w + x0) * c, p11 = input + (y1 * w + x1) * c
                let dst = output + (oy * outWidth + ox) * c
                for ch in 0..<c {
                    var v = w00 * Float(p00[ch])
                    v = v + w01 * Float(p01[ch])
                    v = v + w10 * Float(p10[ch])
                    v = v + w11 * Float(p11[ch])
                    dst[ch] = UInt8(min(max(v, 0), 255).rounded(.toNearestOrEven))
                }
            }
        }
    }
}
