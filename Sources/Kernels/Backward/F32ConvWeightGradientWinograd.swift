extension F32ConvWeightGradient {
    /// The weight gradient of a 3x3, stride-1 convolution by Winograd F(m x m, 3 x 3).
    ///
    /// The forward pass computes each m x m output tile as `Y = A^T [ (G g G^T) (.) (B^T d B) ] A`, which is
    /// linear in the filter g, so its exact gradient uses the same three matrices transposed:
    ///
    ///     dL/dg = G^T [ sum over tiles of (A dY A^T) (.) (B^T d B) ] G
    ///
    /// The sum over tiles is, for each of the alpha^2 positions xi, a product `M[xi] = U[xi]^T V[xi]` of the
    /// transformed output gradient `U` (tiles x out channels) and the transformed input `V` (tiles x in
    /// channels), on the same 6 x (2W) register tile as the direct kernel, summing tiles in a fixed order.
    /// F(2x2) does 16 multiplications for every 4 output pixels where the direct kernel does 36 (9 per
    /// pixel), and its transforms only add and halve, so the result is as accurate as the direct sum.
    ///
    /// Panels: `V` as `[chunk][xi][tile][2W]` (chunks of 2W input channels, zero past `inChannels`) and `U`
    /// as `[block][xi][tile][6]` (blocks of 6 output channels); the accumulator is `[xi][out][paddedChannels]`.
    /// Output tiles past the image edge carry a zero gradient.
    public struct WinogradPlan: F32ConvWeightGradientPlan {
        public let geometry: Conv2dGeometry
        public let variant: WinogradVariant
        public let paddedChannels: Int
        let tilesY: Int
        let tilesX: Int
        /// `B^T` (alpha x alpha).
        let inputRows: SparseRows
        /// `A` (alpha x m), the transposed output transform.
        let gradientRows: SparseRows

        public static func supports(_ g: Conv2dGeometry) -> Bool { F32ConvWinograd.supports(g) }

        /// Whether F(2x2) beats the direct kernel on `g`. Its panels hold 4 floats per pixel and channel
        /// where the direct kernel's hold 1, and they are written and read back once per image: when they
        /// outgrow the last-level cache, or the layer has too few channels to reuse them (fewer than about
        /// 40 multiply-adds per panel float), that traffic costs more than the multiplications saved.
        /// Measured on unet-s at 256x256 (Zen 3, 1 and 2 threads): the 64x64 and deeper levels win by
        /// 10-30%, the 128x128 and 256x256 levels lose by 10-50%.
        public static func isFaster(for g: Conv2dGeometry) -> Bool {
            guard supports(g) else { return false }
            let cp = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth), cop = roundUp(g.outChannels, toMultipleOf: 6)
            let tiles = ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
            let panelBytes = 16 * tiles * (cp + cop) * 4
            let reuse = g.inChannels * g.outChannels / (g.inChannels + g.outChannels)
            return panelBytes <= 32 << 20 && reuse >= 40
        }

        public init(_ g: Conv2dGeometry, variant: WinogradVariant) throws(ShapeError) {
            if let error = g.validate() { throw error }
            if g.groups != 1 { throw .unsupportedGroups(groups: g.groups, inChannels: g.inChannels, outChannels: g.outChannels) }
            precondition(Self.supports(g), "Winograd weight gradient needs 3x3, stride 1, dilation 1: \(g)")
            geometry = g
            self.variant = variant
            paddedChannels = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth)
            tilesY = (g.outHeight + variant.m - 1) / variant.m
            tilesX = (g.outWidth + variant.m - 1) / variant.m
            let m = variant.m, alpha = variant.alpha
            inputRows = SparseRows(variant.bt, rows: alpha, columns: alpha)
            var a = [Double](repeating: 0, count: alpha * m)
            for r in 0..<m { for c in 0..<alpha { a[c * m + r] = variant.at[r * alpha + c] } }
            gradientRows = SparseRows(a, rows: alpha, columns: m)
        }

        var alpha: Int { variant.alpha }
        var positions: Int { alpha * alpha }
        var tiles: Int { tilesY * tilesX }
        var chunkWidth: Int { 2 * CompiledISA.tileWidth }
        public var outputBlocks: Int { (geometry.outChannels + 5) / 6 }
        public var inputChunks: Int { (paddedChannels + chunkWidth - 1) / chunkWidth }
        public var workItems: Int { outputBlocks * inputChunks }
        public var preparedInputFloats: Int { positions * tiles * paddedChannels }
        public var preparedGradientFloats: Int { outputBlocks * positions * tiles * 6 }
        public var accumulatorFloats: Int { positions * geometry.outChannels * paddedChannels }
        /// Both panels are prepared by rows of tiles.
        public var inputParts: Int { tilesY }
        public var gradientParts: Int { tilesY }

        /// `V = B^T d B` of tile rows `parts`, where d is the alpha x alpha input patch at the tile's corner
        /// (zero outside the image), W channels at a time.
        public func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>) {
            if variant.m == 2 {
                if CompiledISA.tileWidth == 16 {
                    prepareInputF2(SIMD16<Float>.self, image, prepared, parts)
                } else {
                    prepareInputF2(SIMD8<Float>.self, image, prepared, parts)
                }
                return
            }
            let g = geometry, alpha = self.alpha, m = variant.m, cin = g.inChannels, cp = paddedChannels, cw = chunkWidth
            let w = CompiledISA.tileWidth, a2 = positions, tiles = self.tiles
            let rows = inputRows
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * a2 * (w / 8)) { temp in
                let patch = temp.baseAddress!, half = patch + a2 * (w / 8)
                rows.starts.withUnsafeBufferPointer { starts in rows.columns.withUnsafeBufferPointer { cols in
                rows.coefficients.withUnsafeBufferPointer { coefs in
                    for ty in parts {
                        for tx in 0..<tilesX {
                            let t = ty &* tilesX &+ tx
                            let y0 = ty &* m &- g.padTop, x0 = tx &* m &- g.padLeft
                            var c = 0
                            while c < cp {
                                let chunk = c / cw, first = chunk &* cw, width = min(cw, cp &- first)
                                let lanes = min(8, cin &- c)
                                // The patch, 8 channels per vector (zero outside the image and past cin).
                                for k in 0..<alpha {
                                    let iy = y0 &+ k
                                    for l in 0..<alpha {
                                        let ix = x0 &+ l
                                        if lanes > 0 && iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                                            let pixel = (iy &* g.inWidth &+ ix) &* cin &+ c
                                            patch[k &* alpha &+ l] = (image + pixel).loadVector(SIMD8<Float>.self, count: lanes)
                                        } else {
                                            patch[k &* alpha &+ l] = SIMD8()
                                        }
                                    }
                                }
                                // half = B^T d, then V = half B.
                                for r in 0..<alpha {
                                    for x in 0..<alpha {
                                        var s = SIMD8<Float>()
                                        for i in starts[r]..<starts[r &+ 1] { s = s.addingProduct(SIMD8(repeating: coefs[i]), patch[cols[i] &* alpha &+ x]) }
                                        half[r &* alpha &+ x] = s
                                    }
                                }
                                let dst = prepared + (first &* a2 &* tiles &+ t &* width &+ (c &- first))
                                for r in 0..<alpha {
                                    for s in 0..<alpha {
                                        var v = SIMD8<Float>()
                                        for i in starts[s]..<starts[s &+ 1] { v = v.addingProduct(SIMD8(repeating: coefs[i]), half[r &* alpha &+ cols[i]]) }
                                        (dst + (r &* alpha &+ s) &* tiles &* width).storeVector(v)
                                    }
                                }
                                c &+= 8
                            }
                        }
                    }
                } } }
            }
        }

        /// `U = A dY A^T` of tile rows `parts`, 6 output channels (one block) at a time.
        public func prepareOutputGradient(_ dy: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>) {
            if variant.m == 2 {
                prepareOutputGradientF2(dy, prepared, parts)
                return
            }
            let g = geometry, alpha = self.alpha, m = variant.m, cout = g.outChannels, a2 = positions, tiles = self.tiles
            let rows = gradientRows
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: m * m + alpha * m) { temp in
                let patch = temp.baseAddress!, half = patch + m * m
                rows.starts.withUnsafeBufferPointer { starts in rows.columns.withUnsafeBufferPointer { cols in
                rows.coefficients.withUnsafeBufferPointer { coefs in
                    for ty in parts {
                        for tx in 0..<tilesX {
                            let t = ty &* tilesX &+ tx
                            for block in 0..<outputBlocks {
                                let o0 = block &* 6, lanes = min(8, cout &- o0)
                                for k in 0..<m {
                                    let oy = ty &* m &+ k
                                    for l in 0..<m {
                                        let ox = tx &* m &+ l
                                        if oy < g.outHeight && ox < g.outWidth {
                                            let pixel = (oy &* g.outWidth &+ ox) &* cout &+ o0
                                            patch[k &* m &+ l] = (dy + pixel).loadVector(SIMD8<Float>.self, count: lanes)
                                        } else {
                                            patch[k &* m &+ l] = SIMD8()
                                        }
                                    }
                                }
                                // half = A dY (alpha x m), then U = half A^T.
                                for r in 0..<alpha {
                                    for x in 0..<m {
                                        var s = SIMD8<Float>()
                                        for i in starts[r]..<starts[r &+ 1] { s = s.addingProduct(SIMD8(repeating: coefs[i]), patch[cols[i] &* m &+ x]) }
                                        half[r &* m &+ x] = s
                                    }
                                }
                                let dst = prepared + (block &* a2 &* tiles &+ t) &* 6
                                for r in 0..<alpha {
                                    for s in 0..<alpha {
                                        var u = SIMD8<Float>()
                                        for i in starts[s]..<starts[s &+ 1] { u = u.addingProduct(SIMD8(repeating: coefs[i]), half[r &* m &+ cols[i]]) }
                                        // Lanes 6 and 7 belong to the next block: store six.
                                        let row = UnsafeMutableRawPointer(dst + (r &* alpha &+ s) &* tiles &* 6)
                                        row.storeBytes(of: u.lowHalf, as: SIMD4<Float>.self)
                                        (row + 16).storeBytes(of: SIMD2(u[4], u[5]), as: SIMD2<Float>.self)
                                    }
                                }
                            }
                        }
                    }
                } } }
            }
        }

        /// F(2x2): `B^T` maps a column (d0, d1, d2, d3) to (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
        @inline(__always)
        static func inputF2<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V) -> (V, V, V, V) where V.Scalar == Float {
            (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }

        /// F(2x2): `A` maps a column (a0, a1) to (a0, a0 + a1, a0 - a1, -a1).
        @inline(__always)
        static func gradientF2(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            (a0, a0 + a1, a0 - a1, -a1)
        }

        /// `prepareInput` for F(2x2), W channels at a time, with unchecked loads for tiles inside the image.
        private func prepareInputF2<V: SIMD>(_: V.Type, _ image: UnsafePointer<Float>, _ prepared: UnsafeMutablePointer<Float>,
                                             _ parts: Range<Int>) where V.Scalar == Float {
            let g = geometry, cin = g.inChannels, cp = paddedChannels, cw = chunkWidth, w = V.scalarCount, tiles = self.tiles
            withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { temp in
                let d = temp.baseAddress!
                for ty in parts {
                    let y0 = ty &* 2 &- g.padTop
                    for tx in 0..<tilesX {
                        let t = ty &* tilesX &+ tx, x0 = tx &* 2 &- g.padLeft
                        let inside = y0 >= 0 && y0 &+ 4 <= g.inHeight && x0 >= 0 && x0 &+ 4 <= g.inWidth
                        var c = 0
                        while c < cp {
                            let lanes = min(w, cin &- c)
                            if inside && lanes == w {
                                for k in 0..<4 {
                                    let offset = ((y0 &+ k) &* g.inWidth &+ x0) &* cin &+ c
                                    let row = image + offset
                                    d[k &* 4] = row.loadVector(V.self)
                                    d[k &* 4 &+ 1] = (row + cin).loadVector(V.self)
                                    d[k &* 4 &+ 2] = (row + 2 &* cin).loadVector(V.self)
                                    d[k &* 4 &+ 3] = (row + 3 &* cin).loadVector(V.self)
                                }
                            } else {
                                for k in 0..<4 {
                                    let iy = y0 &+ k
                                    for l in 0..<4 {
                                        let ix = x0 &+ l
                                        if lanes > 0 && iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                                            let pixel = (iy &* g.inWidth &+ ix) &* cin &+ c
                                            d[k &* 4 &+ l] = (image + pixel).loadVector(V.self, count: lanes)
                                        } else {
                                            d[k &* 4 &+ l] = V()
                                        }
                                    }
                                }
                            }
                            for l in 0..<4 {
                                (d[l], d[4 &+ l], d[8 &+ l], d[12 &+ l]) = Self.inputF2(d[l], d[4 &+ l], d[8 &+ l], d[12 &+ l])
                            }
                            let first = c / cw &* cw, width = min(cw, cp &- first)
                            let dst = prepared + (first &* 16 &* tiles &+ t &* width &+ (c &- first))
                            let step = tiles &* width
                            for r in 0..<4 {
                                let (v0, v1, v2, v3) = Self.inputF2(d[r &* 4], d[r &* 4 &+ 1], d[r &* 4 &+ 2], d[r &* 4 &+ 3])
                                let row = dst + r &* 4 &* step
                                row.storeVector(v0)
                                (row + step).storeVector(v1)
                                (row + 2 &* step).storeVector(v2)
                                (row + 3 &* step).storeVector(v3)
                            }
                            c &+= w
                        }
                    }
                }
            }
        }

        /// `prepareOutputGradient` for F(2x2): one block of 6 output channels per 8-lane vector.
        private func prepareOutputGradientF2(_ dy: UnsafePointer<Float>, _ prepared: UnsafeMutablePointer<Float>, _ parts: Range<Int>) {
            let g = geometry, cout = g.outChannels, tiles = self.tiles
            for ty in parts {
                let oy = ty &* 2, rows = min(2, g.outHeight &- oy)
                for tx in 0..<tilesX {
                    let t = ty &* tilesX &+ tx, ox = tx &* 2, columns = min(2, g.outWidth &- ox)
                    for block in 0..<outputBlocks {
                        let o0 = block &* 6, lanes = min(8, cout &- o0)
                        @inline(__always) func load(_ k: Int, _ l: Int) -> SIMD8<Float> {
                            if k >= rows || l >= columns { return SIMD8() }
                            return (dy + (((oy &+ k) &* g.outWidth &+ ox &+ l) &* cout &+ o0)).loadVector(SIMD8<Float>.self, count: lanes)
                        }
                        let (a0, a1, a2, a3) = Self.gradientF2(load(0, 0), load(1, 0))
                        let (b0, b1, b2, b3) = Self.gradientF2(load(0, 1), load(1, 1))
                        let dst = UnsafeMutableRawPointer(prepared + (block &* 16 &* tiles &+ t) &* 6)
                        let step = tiles &* 24
                        @inline(__always) func store(_ r: Int, _ x: SIMD8<Float>, _ y: SIMD8<Float>) {
                            let (u0, u1, u2, u3) = Self.gradientF2(x, y)
                            // Lanes 6 and 7 belong to the next block: store six.
                            @inline(__always) func six(_ s: Int, _ u: SIMD8<Float>) {
                                let row = dst + (r &* 4 &+ s) &* step
                                row.storeBytes(of: u.lowHalf, as: SIMD4<Float>.self)
                                (row + 16).storeBytes(of: SIMD2(u[4], u[5]), as: SIMD2<Float>.self)
                            }
                            six(0, u0); six(1, u1); six(2, u2); six(3, u3)
                        }
                        store(0, a0, b0); store(1, a1, b1); store(2, a2, b2); store(3, a3, b3)
                    }
                }
            }
        }

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
            let cout = geometry.outChannels, cp = paddedChannels, cw = chunkWidth, a2 = positions, tiles = self.tiles
            // Per xi this is a product of (out x tiles) and (tiles x in) panels into an (out x in) part of the
            // accumulator. Tiles go in blocks whose two panels take about 256 KiB, so they stay in L2 while
            // every item of that xi passes over them.
            let tilesPerBlock = max(32, min(1024, (1 << 16) / (cp + outputBlocks * 6)))
            var t0 = 0
            while t0 < tiles {
                let count = min(tilesPerBlock, tiles &- t0)
                for xi in 0..<a2 {
                    for item in items {
                        let block = item / inputChunks, first = (item % inputChunks) &* cw
                        let width = min(cw, cp &- first), o0 = block &* 6, rows = min(6, cout &- o0)
                        let v = x + (first &* a2 &* tiles &+ (xi &* tiles &+ t0) &* width)
                        let u = dy + ((block &* a2 &+ xi) &* tiles &+ t0) &* 6
                        let target = acc + ((xi &* cout &+ o0) &* cp &+ first)
                        if width == 2 &* V.scalarCount {
                            Self.tile2(V.self, v, u, target, rowStride: cp, rows: rows, count: count)
                        } else {
                            Self.tile1(V.self, v, u, target, rowStride: cp, rows: rows, count: count)
                        }
                    }
                }
                t0 &+= count
            }
        }

        /// Adds `sum over k < count of u[k][j] * x[k][...]` to row j of `out` (rows `rowStride` apart), for the
        /// first `rows` of 6 rows: x rows are 2W floats, u rows 6.
        @inline(__always)
        static func tile2<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                   rowStride: Int, rows: Int, count: Int) where V.Scalar == Float {
            let w = V.scalarCount
            var a0 = V(), a1 = V(), b0 = V(), b1 = V(), c0 = V(), c1 = V()
            var d0 = V(), d1 = V(), e0 = V(), e1 = V(), f0 = V(), f1 = V()
            var src = x, grad = u
            for _ in 0..<count {
                let x0: V = src.loadVector(), x1: V = (src + w).loadVector()
                a0 = a0.addingProduct(x0, V(repeating: grad[0])); a1 = a1.addingProduct(x1, V(repeating: grad[0]))
                b0 = b0.addingProduct(x0, V(repeating: grad[1])); b1 = b1.addingProduct(x1, V(repeating: grad[1]))
                c0 = c0.addingProduct(x0, V(repeating: grad[2])); c1 = c1.addingProduct(x1, V(repeating: grad[2]))
                d0 = d0.addingProduct(x0, V(repeating: grad[3])); d1 = d1.addingProduct(x1, V(repeating: grad[3]))
                e0 = e0.addingProduct(x0, V(repeating: grad[4])); e1 = e1.addingProduct(x1, V(repeating: grad[4]))
                f0 = f0.addingProduct(x0, V(repeating: grad[5])); f1 = f1.addingProduct(x1, V(repeating: grad[5]))
                src += 2 &* w
                grad += 6
            }
            @inline(__always) func add(_ k: Int, _ v0: V, _ v1: V) {
                if k >= rows { return }
                let row = out + k &* rowStride
                row.storeVector(row.loadVector(V.self) + v0)
                (row + w).storeVector((row + w).loadVector(V.self) + v1)
            }
            add(0, a0, a1); add(1, b0, b1); add(2, c0, c1); add(3, d0, d1); add(4, e0, e1); add(5, f0, f1)
        }

        /// `tile2` for x rows of W floats (a last, narrower chunk).
        @inline(__always)
        static func tile1<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                   rowStride: Int, rows: Int, count: Int) where V.Scalar == Float {
            var a = V(), b = V(), c = V(), d = V(), e = V(), f = V()
            var src = x, grad = u
            for _ in 0..<count {
                let x0: V = src.loadVector()
                a = a.addingProduct(x0, V(repeating: grad[0]))
                b = b.addingProduct(x0, V(repeating: grad[1]))
                c = c.addingProduct(x0, V(repeating: grad[2]))
                d = d.addingProduct(x0, V(repeating: grad[3]))
                e = e.addingProduct(x0, V(repeating: grad[4]))
                f = f.addingProduct(x0, V(repeating: grad[5]))
                src += V.scalarCount
                grad += 6
            }
            @inline(__always) func add(_ k: Int, _ v: V) {
                if k >= rows { return }
                let row = out + k &* rowStride
                row.storeVector(row.loadVector(V.self) + v)
            }
            add(0, a); add(1, b); add(2, c); add(3, d); add(4, e); add(5, f)
        }

        /// `dW[o][i] = G^T M[o][i] G` for every pair, W input channels at a time, written as OIHW.
        public func finish(_ accumulator: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
            let g = geometry, cin = g.inChannels, cout = g.outChannels, cp = paddedChannels, alpha = self.alpha, a2 = positions
            let gm = variant.g.map { Float($0) }
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: a2 + 3 * alpha) { temp in
                let mTile = temp.baseAddress!, half = mTile + a2
                for o in 0..<cout {
                    var i0 = 0
                    while i0 < cin {
                        for xi in 0..<a2 { mTile[xi] = (accumulator + ((xi &* cout &+ o) &* cp &+ i0)).loadVector(SIMD8<Float>.self) }
                        // half = G^T M (3 x alpha), then dW = half G (3 x 3).
                        for ky in 0..<3 {
                            for s in 0..<alpha {
                                var h = SIMD8<Float>()
                                for r in 0..<alpha where gm[r &* 3 &+ ky] != 0 { h = h.addingProduct(SIMD8(repeating: gm[r &* 3 &+ ky]), mTile[r &* alpha &+ s]) }
                                half[ky &* alpha &+ s] = h
                            }
                        }
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                var d = SIMD8<Float>()
                                for s in 0..<alpha where gm[s &* 3 &+ kx] != 0 { d = d.addingProduct(SIMD8(repeating: gm[s &* 3 &+ kx]), half[ky &* alpha &+ s]) }
                                for lane in 0..<min(8, cin &- i0) { weightGradient[((o &* cin &+ i0 &+ lane) &* 3 &+ ky) &* 3 &+ kx] = d[lane] }
                            }
                        }
                        i0 &+= 8
                    }
                }
            }
        }
    }
}
