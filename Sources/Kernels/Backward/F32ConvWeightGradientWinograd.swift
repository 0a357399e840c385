extension F32ConvWeightGradient {
    /// The weight gradient of a 3x3, stride-1 convolution by Winograd F(2x2, 3x3).
    ///
    /// The forward pass computes each 2x2 output tile as `Y = A^T [ (G g G^T) (.) (B^T d B) ] A`, which is
    /// linear in the filter g, so its exact gradient uses the same three matrices transposed:
    ///
    ///     dL/dg = G^T [ sum over tiles of (A dY A^T) (.) (B^T d B) ] G
    ///
    /// The sum over tiles is, for each of the 16 positions xi, a product `M[xi] = U[xi]^T V[xi]` of the
    /// transformed output gradient `U` (tiles x out channels) and the transformed input `V` (tiles x in
    /// channels), on the same 6 x (2W) register tile as the direct kernel, summing tiles in a fixed order.
    /// That is 16 multiplications for every 4 output pixels where the direct kernel does 36, and the
    /// transforms only add, subtract and halve, so the result is as accurate as the direct sum.
    ///
    /// Panels: `V` as `[chunk][xi][tile][2W]` (chunks of 2W input channels, zero past `inChannels`) and `U`
    /// as `[block][xi][tile][6]` (blocks of 6 output channels); the accumulator is `[xi][out][paddedChannels]`.
    /// Output tiles past the image edge carry a zero gradient.
    ///
    /// Two ways to run it (`strategy(for:)`):
    /// - per image (the `F32ConvWeightGradientPlan` steps): both panels of a whole image are transformed,
    ///   then every work item (output block x input chunk) adds its part. For deep layers, where the
    ///   accumulator is large and the panels small.
    /// - streamed (`runStreamed`): the batch's tiles are cut into `streamParts` fixed parts with one
    ///   accumulator each; a part transforms blocks of tiles that stay in L2 and adds all items. The parts'
    ///   accumulators are then summed in order, so any number of threads gives the same bits. For shallow,
    ///   wide layers, whose whole-image panels would stream through memory.
    public struct WinogradPlan: F32ConvWeightGradientPlan {
        public let geometry: Conv2dGeometry
        public let paddedChannels: Int
        let tilesY: Int
        let tilesX: Int

        public static func supports(_ g: Conv2dGeometry) -> Bool { F32ConvWinograd.supports(g) }

        public enum Strategy: Equatable, Sendable { case direct, winogradPerImage, winogradStreamed }

        /// The fastest way to take the weight gradient of `g`, by rules measured on unet-s at 256x256
        /// (Zen 3, 1 and 2 threads):
        /// - streamed Winograd while the parts' accumulators stay small (up to 256 x 256 channels);
        /// - per-image Winograd for deeper layers, while an image's panels stay in the last-level cache and
        ///   each panel float meets about 40 multiply-adds: otherwise writing and reading the panels, 4 floats
        ///   per pixel and channel where the direct kernel copies 1, costs more than the multiplications saved;
        /// - else the direct kernel.
        public static func strategy(for g: Conv2dGeometry) -> Strategy {
            guard supports(g) && g.groups == 1 else { return .direct }
            let cp = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth), cop = roundUp(g.outChannels, toMultipleOf: 6)
            if 16 * g.outChannels * cp <= 16 * 256 * 256 { return .winogradStreamed }
            let tiles = ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
            let panelBytes = 16 * tiles * (cp + cop) * 4
            let reuse = g.inChannels * g.outChannels / (g.inChannels + g.outChannels)
            return panelBytes <= 32 << 20 && reuse >= 40 ? .winogradPerImage : .direct
        }

        public init(_ g: Conv2dGeometry) throws(ShapeError) {
            if let error = g.validate() { throw error }
            if g.groups != 1 { throw .unsupportedGroups(groups: g.groups, inChannels: g.inChannels, outChannels: g.outChannels) }
            precondition(Self.supports(g), "Winograd weight gradient needs 3x3, stride 1, dilation 1: \(g)")
            geometry = g
            paddedChannels = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth)
            tilesY = (g.outHeight + 1) / 2
            tilesX = (g.outWidth + 1) / 2
        }

        var tilesPerImage: Int { tilesY * tilesX }
        var chunkWidth: Int { 2 * CompiledISA.tileWidth }
        public var outputBlocks: Int { (geometry.outChannels + 5) / 6 }
        public var inputChunks: Int { (paddedChannels + chunkWidth - 1) / chunkWidth }
        public var workItems: Int { outputBlocks * inputChunks }
        public var preparedInputFloats: Int { 16 * tilesPerImage * paddedChannels }
        public var preparedGradientFloats: Int { outputBlocks * 16 * tilesPerImage * 6 }
        public var accumulatorFloats: Int { 16 * geometry.outChannels * paddedChannels }
        /// Both panels are prepared by rows of tiles.
        public var inputParts: Int { tilesY }
        public var gradientParts: Int { tilesY }
        /// Panel floats of one tile (both panels).
        var floatsPerTile: Int { 16 * (paddedChannels + outputBlocks * 6) }
        /// Tiles whose panels take about 256 KiB, so they stay in L2 while every item passes over them.
        var tilesPerBlock: Int { max(32, min(1024, (1 << 16) / (paddedChannels + outputBlocks * 6))) }

        // MARK: Per image

        public func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>) {
            transformInput(image, tiles: (parts.lowerBound * tilesX)..<(parts.upperBound * tilesX), firstTile: 0,
                           xiStride: tilesPerImage, into: prepared)
        }

        public func prepareOutputGradient(_ dy: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>) {
            transformGradient(dy, tiles: (parts.lowerBound * tilesX)..<(parts.upperBound * tilesX), firstTile: 0,
                              xiStride: tilesPerImage, into: prepared)
        }

        public func accumulate(prepared: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                               into accumulator: UnsafeMutablePointer<Float>, items: Range<Int>) {
            var t0 = 0
            while t0 < tilesPerImage {
                let count = min(tilesPerBlock, tilesPerImage - t0)
                multiplyAdd(prepared, outputGradient, xiStride: tilesPerImage, tiles: t0..<(t0 + count), items: items, into: accumulator)
                t0 += count
            }
        }

        // MARK: Streamed

        /// Fixed parts of the batch's tiles, each with its own accumulator (never depends on threads).
        public var streamParts: Int { max(1, min(8, geometry.batch * tilesPerImage / 64)) }

        /// The whole weight gradient of the batch (OIHW), the parts spread by `spread`. Allocates.
        public func runStreamed(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                weightGradient: UnsafeMutablePointer<Float>, spread: WorkSpreader) {
            let parts = streamParts, floats = accumulatorFloats
            let partials = AlignedBuffer(count: parts * floats)
            let total = geometry.batch * tilesPerImage, block = tilesPerBlock
            spread(parts) { range in
                let scratch = AlignedBuffer(count: block * floatsPerTile, zeroed: false)
                let v = scratch.pointer, u = scratch.pointer + block * 16 * paddedChannels
                for k in range {
                    let end = (k + 1) * total / parts
                    var t0 = k * total / parts
                    while t0 < end {
                        let tiles = t0..<min(end, t0 + block)
                        transformInput(input, tiles: tiles, firstTile: t0, xiStride: block, into: v)
                        transformGradient(outputGradient, tiles: tiles, firstTile: t0, xiStride: block, into: u)
                        multiplyAdd(v, u, xiStride: block, tiles: 0..<tiles.count, items: 0..<workItems, into: partials.pointer + k * floats)
                        t0 = tiles.upperBound
                    }
                }
            }
            // Sum the parts in order, then transform to OIHW.
            let sum = partials.pointer
            spread((floats + 4095) / 4096) { chunks in
                for chunk in chunks {
                    let range = (chunk * 4096)..<min(floats, (chunk + 1) * 4096)
                    for k in 1..<parts {
                        let part = partials.pointer + k * floats
                        for j in range { sum[j] += part[j] }
                    }
                }
            }
            finish(partials.constPointer, weightGradient: weightGradient)
        }

        // MARK: Transforms and products

        /// `A` maps a column (a0, a1) to (a0, a0 + a1, a0 - a1, -a1).
        @inline(__always)
        static func gradientColumn(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            (a0, a0 + a1, a0 - a1, -a1)
        }

        /// `V = B^T d B` of `tiles` (numbered across the images at `images`), where d is the 4x4 input patch
        /// at the tile's corner (zero outside the image); tile t goes to row `t - firstTile` of the panel.
        func transformInput(_ images: UnsafePointer<Float>, tiles: Range<Int>, firstTile: Int, xiStride: Int,
                            into prepared: UnsafeMutablePointer<Float>) {
            if CompiledISA.tileWidth == 16 {
                transformInput(SIMD16<Float>.self, images, tiles, firstTile, xiStride, prepared)
            } else {
                transformInput(SIMD8<Float>.self, images, tiles, firstTile, xiStride, prepared)
            }
        }

        private func transformInput<V: SIMD>(_: V.Type, _ images: UnsafePointer<Float>, _ tiles: Range<Int>, _ firstTile: Int,
                                             _ xiStride: Int, _ prepared: UnsafeMutablePointer<Float>) where V.Scalar == Float {
            let g = geometry, cin = g.inChannels, cp = paddedChannels, cw = chunkWidth, w = V.scalarCount
            withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { temp in
                let d = temp.baseAddress!
                for t in tiles {
                    let n = t / tilesPerImage, local = t - n * tilesPerImage, ty = local / tilesX, tx = local - ty * tilesX
                    let image = images + n &* g.inputShape.elementsPerImage
                    let y0 = ty &* 2 &- g.padTop, x0 = tx &* 2 &- g.padLeft
                    let inside = y0 >= 0 && y0 &+ 4 <= g.inHeight && x0 >= 0 && x0 &+ 4 <= g.inWidth
                    let row = t &- firstTile
                    var c = 0
                    while c < cp {
                        let lanes = min(w, cin &- c)
                        if inside && lanes == w {
                            for k in 0..<4 {
                                let offset = ((y0 &+ k) &* g.inWidth &+ x0) &* cin &+ c
                                let pixel = image + offset
                                d[k &* 4] = pixel.loadVector(V.self)
                                d[k &* 4 &+ 1] = (pixel + cin).loadVector(V.self)
                                d[k &* 4 &+ 2] = (pixel + 2 &* cin).loadVector(V.self)
                                d[k &* 4 &+ 3] = (pixel + 3 &* cin).loadVector(V.self)
                            }
                        } else {
                            for k in 0..<4 {
                                let iy = y0 &+ k
                                for l in 0..<4 {
                                    let ix = x0 &+ l
                                    if lanes > 0 && iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                                        let offset = (iy &* g.inWidth &+ ix) &* cin &+ c
                                        d[k &* 4 &+ l] = (image + offset).loadVector(V.self, count: lanes)
                                    } else {
                                        d[k &* 4 &+ l] = V()
                                    }
                                }
                            }
                        }
                        for l in 0..<4 {
                            (d[l], d[4 &+ l], d[8 &+ l], d[12 &+ l]) = WinogradF2.input(d[l], d[4 &+ l], d[8 &+ l], d[12 &+ l])
                        }
                        let first = c / cw &* cw, width = min(cw, cp &- first)
                        let dst = prepared + (first &* 16 &* xiStride &+ row &* width &+ (c &- first))
                        let step = xiStride &* width
                        for r in 0..<4 {
                            let (v0, v1, v2, v3) = WinogradF2.input(d[r &* 4], d[r &* 4 &+ 1], d[r &* 4 &+ 2], d[r &* 4 &+ 3])
                            let xi = dst + r &* 4 &* step
                            xi.storeVector(v0)
                            (xi + step).storeVector(v1)
                            (xi + 2 &* step).storeVector(v2)
                            (xi + 3 &* step).storeVector(v3)
                        }
                        c &+= w
                    }
                }
            }
        }

        /// `U = A dY A^T` of `tiles` (numbered across the images at `dy`), one block of 6 output channels per
        /// 8-lane vector; tile t goes to row `t - firstTile` of the panel.
        func transformGradient(_ dy: UnsafePointer<Float>, tiles: Range<Int>, firstTile: Int, xiStride: Int,
                               into prepared: UnsafeMutablePointer<Float>) {
            let g = geometry, cout = g.outChannels
            for t in tiles {
                let n = t / tilesPerImage, local = t - n * tilesPerImage, ty = local / tilesX, tx = local - ty * tilesX
                let image = dy + n &* g.outputShape.elementsPerImage
                let oy = ty &* 2, ox = tx &* 2, rows = min(2, g.outHeight &- oy), columns = min(2, g.outWidth &- ox)
                let row = t &- firstTile
                for block in 0..<outputBlocks {
                    let o0 = block &* 6, lanes = min(8, cout &- o0)
                    @inline(__always) func load(_ k: Int, _ l: Int) -> SIMD8<Float> {
                        if k >= rows || l >= columns { return SIMD8() }
                        let offset = ((oy &+ k) &* g.outWidth &+ ox &+ l) &* cout &+ o0
                        return (image + offset).loadVector(SIMD8<Float>.self, count: lanes)
                    }
                    let (a0, a1, a2, a3) = Self.gradientColumn(load(0, 0), load(1, 0))
                    let (b0, b1, b2, b3) = Self.gradientColumn(load(0, 1), load(1, 1))
                    let dst = UnsafeMutableRawPointer(prepared + (block &* 16 &* xiStride &+ row) &* 6)
                    let step = xiStride &* 24
                    @inline(__always) func store(_ r: Int, _ x: SIMD8<Float>, _ y: SIMD8<Float>) {
                        let (u0, u1, u2, u3) = Self.gradientColumn(x, y)
                        // Lanes 6 and 7 belong to the next block: store six.
                        @inline(__always) func six(_ s: Int, _ u: SIMD8<Float>) {
                            let xi = dst + (r &* 4 &+ s) &* step
                            xi.storeBytes(of: u.lowHalf, as: SIMD4<Float>.self)
                            (xi + 16).storeBytes(of: SIMD2(u[4], u[5]), as: SIMD2<Float>.self)
                        }
                        six(0, u0); six(1, u1); six(2, u2); six(3, u3)
                    }
                    store(0, a0, b0); store(1, a1, b1); store(2, a2, b2); store(3, a3, b3)
                }
            }
        }

        /// `dW[o][i] = G^T M[o][i] G` for every pair, 8 input channels at a time, written as OIHW. `G^T` maps
        /// a row (m0, m1, m2, m3) to (m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3).
        public func finish(_ accumulator: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
            let g = geometry, cin = g.inChannels, cout = g.outChannels, cp = paddedChannels
            @inline(__always) func gt(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>)
                -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                let half = SIMD8<Float>(repeating: 0.5), s = half * (m1 + m2)
                return (m0 + s, half * (m1 - m2), s + m3)
            }
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 28) { temp in
                let m = temp.baseAddress!, h = m + 16
                for o in 0..<cout {
                    var i0 = 0
                    while i0 < cin {
                        for xi in 0..<16 { m[xi] = (accumulator + ((xi &* cout &+ o) &* cp &+ i0)).loadVector(SIMD8<Float>.self) }
                        // h = G^T M (3 x 4), by columns; then dW = h G, by rows.
                        for s in 0..<4 { (h[s], h[4 &+ s], h[8 &+ s]) = gt(m[s], m[4 &+ s], m[8 &+ s], m[12 &+ s]) }
                        for ky in 0..<3 {
                            let (w0, w1, w2) = gt(h[ky &* 4], h[ky &* 4 &+ 1], h[ky &* 4 &+ 2], h[ky &* 4 &+ 3])
                            for lane in 0..<min(8, cin &- i0) {
                                let dst = weightGradient + ((o &* cin &+ i0 &+ lane) &* 3 &+ ky) &* 3
                                dst[0] = w0[lane]; dst[1] = w1[lane]; dst[2] = w2[lane]
                            }
                        }
                        i0 &+= 8
                    }
                }
            }
        }
    }
}
