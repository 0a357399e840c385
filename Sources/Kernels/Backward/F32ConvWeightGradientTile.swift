/// The register tile of the weight-gradient kernels and the two loops that drive it, in one file: SwiftPM's
/// debug builds (the test suite) compile files separately, and a generic function called from another file is
/// not specialized there (a Winograd parity step took 37 s instead of 2 s).
extension F32ConvWeightGradient {
    /// The register tile of both weight-gradient kernels: adds `sum over k of u[k][j] * x[k][...]` (two vectors
    /// of x) to row j of `out` (rows `rowStride` apart), for the first `rows` of 6 rows. The k run over `lines`
    /// lines of `perLine` x rows each, `step` floats apart within a line and `lineStride` between line starts;
    /// the u rows (6 floats) are contiguous throughout.
    @inline(__always)
    static func tile2<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               rowStride: Int, rows: Int, lines: Int, lineStride: Int, perLine: Int, step: Int) where V.Scalar == Float {
        let w = V.scalarCount
        var a0 = V(), a1 = V(), b0 = V(), b1 = V(), c0 = V(), c1 = V()
        var d0 = V(), d1 = V(), e0 = V(), e1 = V(), f0 = V(), f1 = V()
        var grad = u
        for line in 0..<lines {
            var src = x + line &* lineStride
            for _ in 0..<perLine {
                let x0: V = src.loadVector(), x1: V = (src + w).loadVector()
                a0 = a0.addingProduct(x0, V(repeating: grad[0])); a1 = a1.addingProduct(x1, V(repeating: grad[0]))
                b0 = b0.addingProduct(x0, V(repeating: grad[1])); b1 = b1.addingProduct(x1, V(repeating: grad[1]))
                c0 = c0.addingProduct(x0, V(repeating: grad[2])); c1 = c1.addingProduct(x1, V(repeating: grad[2]))
                d0 = d0.addingProduct(x0, V(repeating: grad[3])); d1 = d1.addingProduct(x1, V(repeating: grad[3]))
                e0 = e0.addingProduct(x0, V(repeating: grad[4])); e1 = e1.addingProduct(x1, V(repeating: grad[4]))
                f0 = f0.addingProduct(x0, V(repeating: grad[5])); f1 = f1.addingProduct(x1, V(repeating: grad[5]))
                src += step
                grad += 6
            }
        }
        @inline(__always) func add(_ k: Int, _ v0: V, _ v1: V) {
            if k >= rows { return }
            let row = out + k &* rowStride
            row.storeVector(row.loadVector(V.self) + v0)
            (row + w).storeVector((row + w).loadVector(V.self) + v1)
        }
        add(0, a0, a1); add(1, b0, b1); add(2, c0, c1); add(3, d0, d1); add(4, e0, e1); add(5, f0, f1)
    }

    /// `tile2` for x rows of one vector (a last, narrower chunk).
    @inline(__always)
    static func tile1<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               rowStride: Int, rows: Int, lines: Int, lineStride: Int, perLine: Int, step: Int) where V.Scalar == Float {
        var a = V(), b = V(), c = V(), d = V(), e = V(), f = V()
        var grad = u
        for line in 0..<lines {
            var src = x + line &* lineStride
            for _ in 0..<perLine {
                let x0: V = src.loadVector()
                a = a.addingProduct(x0, V(repeating: grad[0]))
                b = b.addingProduct(x0, V(repeating: grad[1]))
                c = c.addingProduct(x0, V(repeating: grad[2]))
                d = d.addingProduct(x0, V(repeating: grad[3]))
                e = e.addingProduct(x0, V(repeating: grad[4]))
                f = f.addingProduct(x0, V(repeating: grad[5]))
                src += step
                grad += 6
            }
        }
        @inline(__always) func add(_ k: Int, _ v: V) {
            if k >= rows { return }
            let row = out + k &* rowStride
            row.storeVector(row.loadVector(V.self) + v)
        }
        add(0, a); add(1, b); add(2, c); add(3, d); add(4, e); add(5, f)
    }
}

extension F32ConvWeightGradient.Plan {
    /// Adds one image's contribution for output-channel blocks `items` into `accumulator`.
    /// `prepared` and `outputGradient` are the panels of `prepareInput` and `prepareOutputGradient`.
    public func accumulate(prepared: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                           into accumulator: UnsafeMutablePointer<Float>, items: Range<Int>) {
        if CompiledISA.tileWidth == 16 {
            accumulate(SIMD16<Float>.self, prepared, outputGradient, accumulator, items)
        } else {
            accumulate(SIMD8<Float>.self, prepared, outputGradient, accumulator, items)
        }
    }

    func accumulate<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                     _ acc: UnsafeMutablePointer<Float>, _ items: Range<Int>) where V.Scalar == Float {
        let g = geometry, cp = paddedChannels, w = V.scalarCount
        let plane = g.paddedHeight &* g.paddedWidth, count = g.outHeight &* g.outWidth
        // Rows of about 512 output pixels at a time, so the input rows they read stay in cache while
        // every tap, channel chunk and output block passes over them; blocks are summed in order.
        let rowsPerBlock = max(1, 512 / max(1, g.outWidth))
        var y0 = 0
        while y0 < g.outHeight {
            let rows = y0..<min(g.outHeight, y0 &+ rowsPerBlock)
            for item in items {
                let block = item / inputChunks, c = (item % inputChunks) &* 2 &* w
                let o0 = block &* 6
                let gradient = dy + block &* count &* 6
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let tap = ky &* g.kernelWidth &+ kx
                        let tapPixel = ky &* g.dilationY &* g.paddedWidth &+ kx &* g.dilationX
                        let target = acc + ((tap &* g.outChannels &+ o0) &* cp &+ c)
                        let outRows = min(6, g.outChannels &- o0), first = rows.lowerBound
                        let u = gradient + first &* g.outWidth &* 6
                        if c &+ 2 &* w <= cp {
                            let cw = 2 &* w
                            F32ConvWeightGradient.tile2(V.self, x + (c &* plane &+ (tapPixel &+ first &* g.strideY &* g.paddedWidth) &* cw), u,
                                                        target, rowStride: cp, rows: outRows, lines: rows.count,
                                                        lineStride: g.strideY &* g.paddedWidth &* cw, perLine: g.outWidth, step: g.strideX &* cw)
                        } else {
                            F32ConvWeightGradient.tile1(V.self, x + (c &* plane &+ (tapPixel &+ first &* g.strideY &* g.paddedWidth) &* w), u,
                                                        target, rowStride: cp, rows: outRows, lines: rows.count,
                                                        lineStride: g.strideY &* g.paddedWidth &* w, perLine: g.outWidth, step: g.strideX &* w)
                        }
                    }
                }
            }
            y0 = rows.upperBound
        }
    }
}

extension F32ConvWeightGradient.WinogradPlan {
    /// Adds panel rows `tiles` of every xi into the accumulator, for work items `items`.
    func multiplyAdd(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, xiStride: Int, tiles: Range<Int>,
                     items: Range<Int>, into acc: UnsafeMutablePointer<Float>) {
        if CompiledISA.tileWidth == 16 {
            multiplyAdd(SIMD16<Float>.self, x, dy, xiStride, tiles, items, acc)
        } else {
            multiplyAdd(SIMD8<Float>.self, x, dy, xiStride, tiles, items, acc)
        }
    }

    func multiplyAdd<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ xiStride: Int,
                                      _ tiles: Range<Int>, _ items: Range<Int>, _ acc: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        let cout = geometry.outChannels, cp = paddedChannels, cw = chunkWidth, t0 = tiles.lowerBound, count = tiles.count
        for xi in 0..<16 {
            for item in items {
                let block = item / inputChunks, first = (item % inputChunks) &* cw
                let width = min(cw, cp &- first), o0 = block &* 6, rows = min(6, cout &- o0)
                let v = x + (first &* 16 &* xiStride &+ (xi &* xiStride &+ t0) &* width)
                let u = dy + ((block &* 16 &+ xi) &* xiStride &+ t0) &* 6
                let target = acc + ((xi &* cout &+ o0) &* cp &+ first)
                if width == 2 &* V.scalarCount {
                    F32ConvWeightGradient.tile2(V.self, v, u, target, rowStride: cp, rows: rows, lines: 1, lineStride: 0, perLine: count, step: 2 &* V.scalarCount)
                } else {
                    F32ConvWeightGradient.tile1(V.self, v, u, target, rowStride: cp, rows: rows, lines: 1, lineStride: 0, perLine: count, step: V.scalarCount)
                }
            }
        }
    }
}
