/// Weight and bias gradients of a convolution (groups 1): for every tap (ky, kx),
/// `dW[o][i][ky][kx] = sum over images and output pixels p of dY[p][o] * Xpad[p*stride + tap*dilation][i]`,
/// and `db[o] = sum dY[p][o]`.
///
/// The input gradient needs no kernel of its own: it is the transposed convolution of dY with the same
/// weights (`F32ConvTranspose`), and the transposed convolution's input gradient is the convolution.
///
/// Work items are blocks of 6 output channels; each computes all taps and input channels of its block
/// with a 6 x (2W) register tile, summing pixels in a fixed order, so results do not depend on threads.
public enum F32ConvWeightGradient {
    public struct Plan {
        public let geometry: Conv2dGeometry
        /// Input channels padded to the vector width (the padded image carries zero lanes).
        public let paddedChannels: Int

        public init(_ g: Conv2dGeometry) throws(ShapeError) {
            if let error = g.validate() { throw error }
            if g.groups != 1 { throw .unsupportedGroups(groups: g.groups, inChannels: g.inChannels, outChannels: g.outChannels) }
            geometry = g
            paddedChannels = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth)
        }

        public var taps: Int { geometry.kernelHeight * geometry.kernelWidth }
        public var preparedInputFloats: Int { geometry.paddedHeight * geometry.paddedWidth * paddedChannels }
        public var preparedRows: Int { geometry.paddedHeight }
        /// Accumulator layout `[tap][o][paddedChannels]`.
        public var accumulatorFloats: Int { taps * geometry.outChannels * paddedChannels }
        public var workItems: Int { (geometry.outChannels + 5) / 6 }
        /// Output channels padded to the 6-row tile: the prepared output gradient's row length.
        public var paddedOutChannels: Int { workItems * 6 }
        public var preparedGradientFloats: Int { geometry.outHeight * geometry.outWidth * paddedOutChannels }

        /// Copies one image's output gradient with rows padded to `paddedOutChannels` (zeros), so the
        /// tile loads six gradients without bounds tests.
        public func prepareOutputGradient(_ dy: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
            let cout = geometry.outChannels, cp = paddedOutChannels
            for p in pixels {
                (prepared + p &* cp).update(from: dy + p &* cout, count: cout)
                (prepared + (p &* cp &+ cout)).update(repeating: 0, count: cp &- cout)
            }
        }

        /// Zero-pads rows `rows` of one NHWC input image, channels padded to the vector width.
        public func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            let g = geometry
            F32Pad.image(image, height: g.inHeight, width: g.inWidth, channels: g.inChannels,
                         top: g.padTop, left: g.padLeft, bottom: g.padBottom, right: g.padRight,
                         into: prepared, dstChannels: paddedChannels, rows: rows)
        }

        /// Adds one image's contribution for output-channel blocks `items` into `accumulator`.
        /// `outputGradient` is the prepared gradient (`prepareOutputGradient`).
        public func accumulate(prepared: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                               into accumulator: UnsafeMutablePointer<Float>, items: Range<Int>) {
            if CompiledISA.tileWidth == 16 {
                accumulate(SIMD16<Float>.self, prepared, outputGradient, accumulator, items)
            } else {
                accumulate(SIMD8<Float>.self, prepared, outputGradient, accumulator, items)
            }
        }

        private func accumulate<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                         _ acc: UnsafeMutablePointer<Float>, _ items: Range<Int>) where V.Scalar == Float {
            let g = geometry, cp = paddedChannels, w = V.scalarCount
            // Rows of about 512 output pixels at a time, so the input rows they read stay in cache while
            // every tap, channel chunk and output block passes over them; blocks are summed in order.
            let rowsPerBlock = max(1, 512 / max(1, g.outWidth))
            var y0 = 0
            while y0 < g.outHeight {
                let rows = y0..<min(g.outHeight, y0 &+ rowsPerBlock)
                for block in items {
                    let o0 = block &* 6
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let tap = ky &* g.kernelWidth &+ kx
                            let tapOffset = (ky &* g.dilationY &* g.paddedWidth &+ kx &* g.dilationX) &* cp
                            var c = 0
                            while c &+ 2 &* w <= cp {
                                tile2(V.self, x + (tapOffset &+ c), dy, acc + ((tap &* g.outChannels &+ o0) &* cp &+ c), o0, rows)
                                c &+= 2 &* w
                            }
                            if c < cp { tile1(V.self, x + (tapOffset &+ c), dy, acc + ((tap &* g.outChannels &+ o0) &* cp &+ c), o0, rows) }
                        }
                    }
                }
                y0 = rows.upperBound
            }
        }

        /// dY of output channels o0..<o0+6 at pixel `p` (the prepared rows are zero past the last channel).
        @inline(__always)
        private func gradients(_ dy: UnsafePointer<Float>, _ p: Int, _ o0: Int) -> (Float, Float, Float, Float, Float, Float) {
            let row = dy + (p &* paddedOutChannels &+ o0)
            return (row[0], row[1], row[2], row[3], row[4], row[5])
        }

        @inline(__always)
        private func tile2<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ out: UnsafeMutablePointer<Float>, _ o0: Int, _ pixelRows: Range<Int>) where V.Scalar == Float {
            let g = geometry, cp = paddedChannels, w = V.scalarCount
            let rows = min(6, g.outChannels &- o0)
            var a0 = V(), a1 = V(), b0 = V(), b1 = V(), c0 = V(), c1 = V()
            var d0 = V(), d1 = V(), e0 = V(), e1 = V(), f0 = V(), f1 = V()
            var p = pixelRows.lowerBound &* g.outWidth
            for oy in pixelRows {
                var src = x + (oy &* g.strideY &* g.paddedWidth) &* cp
                for _ in 0..<g.outWidth {
                    let x0: V = src.loadVector(), x1: V = (src + w).loadVector()
                    let (ga, gb, gc, gd, ge, gf) = gradients(dy, p, o0)
                    a0 = a0.addingProduct(x0, V(repeating: ga)); a1 = a1.addingProduct(x1, V(repeating: ga))
                    b0 = b0.addingProduct(x0, V(repeating: gb)); b1 = b1.addingProduct(x1, V(repeating: gb))
                    c0 = c0.addingProduct(x0, V(repeating: gc)); c1 = c1.addingProduct(x1, V(repeating: gc))
                    d0 = d0.addingProduct(x0, V(repeating: gd)); d1 = d1.addingProduct(x1, V(repeating: gd))
                    e0 = e0.addingProduct(x0, V(repeating: ge)); e1 = e1.addingProduct(x1, V(repeating: ge))
                    f0 = f0.addingProduct(x0, V(repeating: gf)); f1 = f1.addingProduct(x1, V(repeating: gf))
                    src += g.strideX &* cp
                    p &+= 1
                }
            }
            @inline(__always) func add(_ k: Int, _ v0: V, _ v1: V) {
                if k >= rows { return }
                let row = out + k &* cp
                row.storeVector(row.loadVector(V.self) + v0)
                (row + w).storeVector((row + w).loadVector(V.self) + v1)
            }
            add(0, a0, a1); add(1, b0, b1); add(2, c0, c1); add(3, d0, d1); add(4, e0, e1); add(5, f0, f1)
        }

        @inline(__always)
        private func tile1<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ out: UnsafeMutablePointer<Float>, _ o0: Int, _ pixelRows: Range<Int>) where V.Scalar == Float {
            let g = geometry, cp = paddedChannels
            let rows = min(6, g.outChannels &- o0)
            var a = V(), b = V(), c = V(), d = V(), e = V(), f = V()
            var p = pixelRows.lowerBound &* g.outWidth
            for oy in pixelRows {
                var src = x + (oy &* g.strideY &* g.paddedWidth) &* cp
                for _ in 0..<g.outWidth {
                    let x0: V = src.loadVector()
                    let (ga, gb, gc, gd, ge, gf) = gradients(dy, p, o0)
                    a = a.addingProduct(x0, V(repeating: ga))
                    b = b.addingProduct(x0, V(repeating: gb))
                    c = c.addingProduct(x0, V(repeating: gc))
                    d = d.addingProduct(x0, V(repeating: gd))
                    e = e.addingProduct(x0, V(repeating: ge))
                    f = f.addingProduct(x0, V(repeating: gf))
                    src += g.strideX &* cp
                    p &+= 1
                }
            }
            @inline(__always) func add(_ k: Int, _ v: V) {
                if k >= rows { return }
                let row = out + k &* cp
                row.storeVector(row.loadVector(V.self) + v)
            }
            add(0, a); add(1, b); add(2, c); add(3, d); add(4, e); add(5, f)
        }

        /// Writes the accumulated gradient as OIHW (`outChannels x inChannels x kh x kw`), replacing its contents.
        public func finish(_ accumulator: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
            let g = geometry, cp = paddedChannels
            for o in 0..<g.outChannels {
                for i in 0..<g.inChannels {
                    for t in 0..<taps { weightGradient[(o &* g.inChannels &+ i) &* taps &+ t] = accumulator[(t &* g.outChannels &+ o) &* cp &+ i] }
                }
            }
        }

        /// Runs the whole batch on the calling thread (allocates). `outputGradient` NHWC, results OIHW and `[out]`.
        public func runSingleThreaded(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                      weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?) {
            let g = geometry
            let prepared = AlignedBuffer(count: preparedInputFloats)
            let gradient = AlignedBuffer(count: preparedGradientFloats)
            let acc = AlignedBuffer(count: accumulatorFloats)
            for n in 0..<g.batch {
                prepareInput(input + n &* g.inputShape.elementsPerImage, into: prepared.pointer, rows: 0..<preparedRows)
                prepareOutputGradient(outputGradient + n &* g.outputShape.elementsPerImage, into: gradient.pointer,
                                      pixels: 0..<(g.outHeight * g.outWidth))
                accumulate(prepared: prepared.constPointer, outputGradient: gradient.constPointer, into: acc.pointer, items: 0..<workItems)
            }
            finish(acc.constPointer, weightGradient: weightGradient)
            if let biasGradient {
                F32ConvWeightGradient.biasGradient(outputGradient, pixels: g.batch * g.outHeight * g.outWidth,
                                                   channels: g.outChannels, into: biasGradient)
            }
        }
    }

    /// `db[o] = sum over pixels of dY[p][o]` (pixels in order, so deterministic).
    public static func biasGradient(_ dy: UnsafePointer<Float>, pixels: Int, channels: Int, into db: UnsafeMutablePointer<Float>) {
        db.update(repeating: 0, count: channels)
        for p in 0..<pixels {
            let row = dy + p &* channels
            for o in 0..<channels { db[o] += row[o] }
        }
    }
}
