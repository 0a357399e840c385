#if !SEGRUN_EDGE  // segrun-edge has no room for this kernel under 1.5 MB (`ConvAlgorithm.winogradNarrow`)
import CStreamStore

/// Winograd F(4x4,3x3) for 3x3 stride-1 layers with at most 4 input channels (`f32-conv3x3-winograd-f4-narrow`):
/// a network's first layer, on a gray or RGB image, or on a volume's one channel with its depth taps as channels.
///
/// The general Winograd kernel (`F32ConvWinograd`) puts input channels in the vector lanes and runs the
/// per-point products as GEMMs: with 1-4 input channels it transforms vectors that are mostly padding, and its
/// GEMMs have a depth of one vector. Here the output channels are the lanes. Per row of 4x4 output tiles:
/// 1. the column transform `B^T d` of every padded column, once (neighbouring tiles share two columns), the 4
///    channels of a pixel one vector; then, per tile, the row transform `(B^T d) B`, each column's 6 rows x 4
///    channels at once;
/// 2. for each vector of output channels, column by column of the 6x6 points, the products
///    `M[xi] = sum_c V[xi][c] U[xi][c]` (a broadcast input value times a vector of weights, each weight load
///    serving two or four tiles) go straight into the output transform's columns `A^T M`, never to memory;
/// 3. the rows `(A^T M) A`, plus bias and the fused activation, stored cropped at the image's edges.
/// On a one-channel volume (`runVolume`) each input slice is transformed once, 4 slices in the 4 channels, and
/// output slices read their taps from the transformed slices instead of stacking and transforming them per slice.
/// A 3x3x3 1->16 layer at 64^3 ran 4.2 ms by implicit GEMM (a depth of 27 per output vector, 46% of peak); here a
/// tile of 16 outputs costs 108 vector products and the transforms' additions, which run beside them: 1.15-1.2 ms
/// at 1 thread, 161-168% effective (BENCHMARKS.md, "sixteenth session").
///
/// Work items are rows of tiles (through the whole depth in `runVolume`). Scratch per thread: `scratchFloats`
/// (`volumeScratchFloats`).
public enum F32ConvWinogradNarrow {
    public static let maxInChannels = 4

    public static func supports(_ g: Conv2dGeometry) -> Bool {
        F32ConvWinograd.supports(g) && g.inChannels <= maxInChannels
    }

    public struct Plan {
        public let geometry: Conv2dGeometry
        let tilesY: Int
        let tilesX: Int
        /// Output channels per vector.
        var lanes: Int { CompiledISA.tileWidth }
        /// Vectors of output channels (the last one padded with zero weights and bias).
        let outVectors: Int
        /// `U[vector][xi][c][lane]`: `G w G^T` per input channel, `lanes` output channels per vector.
        let weights: AlignedBuffer
        let bias: AlignedBuffer

        public init(_ g: Conv2dGeometry, weights w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?) {
            precondition(F32ConvWinogradNarrow.supports(g), "narrow Winograd needs a 3x3 stride-1 kernel on <= 4 channels: \(g)")
            geometry = g
            tilesY = (g.outHeight + 3) / 4
            tilesX = (g.outWidth + 3) / 4
            let lanes = CompiledISA.tileWidth
            outVectors = (g.outChannels + lanes - 1) / lanes
            let cin = g.inChannels, cout = g.outChannels
            weights = AlignedBuffer(count: outVectors * 36 * cin * lanes)
            bias = AlignedBuffer(count: outVectors * lanes)
            let G = WinogradVariant.f4.g
            for o in 0..<cout {
                bias.pointer[o] = b?[o] ?? 0
                let vector = o / lanes, lane = o % lanes
                for c in 0..<cin {
                    let k = w + (o * cin + c) * 9
                    for r in 0..<6 {
                        for s in 0..<6 {
                            var u = 0.0
                            for a in 0..<3 {
                                for e in 0..<3 { u += G[r * 3 + a] * Double(k[a * 3 + e]) * G[s * 3 + e] }
                            }
                            weights.pointer[((vector * 36 + r * 6 + s) * cin + c) * lanes + lane] = Float(u)
                        }
                    }
                }
            }
        }

        var paddedHeight: Int { tilesY * 4 + 2 }
        var paddedWidth: Int { tilesX * 4 + 2 }
        /// Floats of the prepared image: padded to whole tiles, 4 channels a pixel.
        public var preparedInputFloats: Int { paddedHeight * paddedWidth * 4 }
        public var preparedRows: Int { paddedHeight }
        public var workItems: Int { tilesY }
        /// Two transformed tiles (36 x 4 floats each), their columns `A^T M` (2 x 24 vectors) and the tile row's
        /// column transform (24 floats a padded column).
        public var scratchFloats: Int { 2 * 144 + 48 * lanes + paddedWidth * 24 }

        /// Pads rows `rows` of one NHWC image into `dst` (4 channels a pixel, zeros past the input's).
        public func prepareInput(_ image: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            withUnsafePointer(to: Optional(image)) { source in
                prepareInput(ChannelBlocks(sources: source, count: 1, channels: geometry.inChannels), into: dst, rows: rows)
            }
        }

        /// `prepareInput` of an image given as stacked channel blocks (a volume's depth taps).
        public func prepareInput(_ blocks: ChannelBlocks, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            let g = geometry, c = blocks.channels
            precondition(blocks.stackedChannels == g.inChannels, "stacked blocks must make the input's channels")
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 1) { zero in
                zero[0] = 0
                // Channel k of a pixel: `sources[k][pixel * strides[k]]`; a channel past the input's (or a block in the
                // depth padding) reads the one zero with stride 0, so the pixel loop has no branches.
                func source(_ k: Int) -> PixelSource {
                    if k < g.inChannels, let block = blocks.sources[k / c] { return PixelSource(block + k % c, stride: c) }
                    return PixelSource(UnsafePointer(zero.baseAddress!), stride: 0)
                }
                let sources = (source(0), source(1), source(2), source(3))
                for y in rows { stackRow(y, sources, into: dst + y &* paddedWidth &* 4) }
            }
        }

        /// Padded row `y` (4 channels a pixel) of the image whose channel k is `sources.k`: zeros in the padding.
        @inline(__always)
        func stackRow(_ y: Int, _ sources: (PixelSource, PixelSource, PixelSource, PixelSource), into row: UnsafeMutablePointer<Float>) {
            let g = geometry, pw = paddedWidth, width = g.inWidth, sy = y &- g.padTop
            if sy < 0 || sy >= g.inHeight {
                row.update(repeating: 0, count: pw &* 4)
                return
            }
            for x in 0..<g.padLeft { (row + x &* 4).storeVector(SIMD4<Float>()) }
            let interior = row + g.padLeft &* 4, first = sy &* width
            let strides = (sources.0.stride, sources.1.stride, sources.2.stride, sources.3.stride)
            var p = (sources.0.base + first &* strides.0, sources.1.base + first &* strides.1, sources.2.base + first &* strides.2,
                     sources.3.base + first &* strides.3)
            for x in 0..<width {
                (interior + x &* 4).storeVector(SIMD4<Float>(p.0.pointee, p.1.pointee, p.2.pointee, p.3.pointee))
                p.0 += strides.0; p.1 += strides.1; p.2 += strides.2; p.3 += strides.3
            }
            for x in width..<(pw &- g.padLeft) { (interior + x &* 4).storeVector(SIMD4<Float>()) }
        }

        /// Tile rows `items` of one image: `input` is the prepared image, `output` the NHWC output image.
        public func run(paddedInput input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, items: Range<Int>,
                        scratch: UnsafeMutablePointer<Float>, activation: FusedActivation) {
            if CompiledISA.tileWidth == 16 {
                run(SIMD16<Float>.self, input, output, items, scratch, activation)
            } else {
                run(SIMD8<Float>.self, input, output, items, scratch, activation)
            }
        }

        /// The input-channel count as a constant in each copy, so the products unroll.
        @inline(__always)
        func run<V: SIMD>(_: V.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ items: Range<Int>,
                          _ scratch: UnsafeMutablePointer<Float>, _ activation: FusedActivation) where V.Scalar == Float {
            switch geometry.inChannels {
            case 1: run(V.self, OneChannel.self, input, output, items, scratch, activation)
            case 2: run(V.self, TwoChannels.self, input, output, items, scratch, activation)
            case 3: run(V.self, ThreeChannels.self, input, output, items, scratch, activation)
            default: run(V.self, FourChannels.self, input, output, items, scratch, activation)
            }
        }

        /// Two tiles per weight load here: four, which the volume run takes, measured slower on an image's first layer
        /// (3x3 3->32 at 256x256: 0.62-0.64 against 0.59-0.61 ms).
        @inline(__always)
        func run<V: SIMD, C: ChannelCount>(_: V.Type, _: C.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                           _ items: Range<Int>, _ scratch: UnsafeMutablePointer<Float>,
                                           _ activation: FusedActivation) where V.Scalar == Float {
            let pw = paddedWidth, w = V.scalarCount
            let tiles = scratch  // V of two tiles, 144 floats each: `V[r][s][c]` at `(s * 6 + r) * 4 + c`
            let columns = VectorSlots<V>(base: UnsafeMutableRawPointer(scratch + 288))  // (A^T M)[i][x] of each tile, 2 x 4 x 6
            let vertical = scratch + 288 + 48 * w  // (B^T d) of the tile row: `[X][r][c]`, 24 floats a padded column X
            for ty in items {
                transformColumns(input + (ty &* 4) &* pw &* 4, into: vertical)
                var tx = 0
                while tx < tilesX {
                    let n = min(2, tilesX &- tx)
                    for k in 0..<n { transformRows(vertical, tile: tx &+ k, into: tiles + k &* 144, pointStride: 4) }
                    multiplyAndStore(V.self, C.self, TwoTiles.self, tiles, tileStride: 144, tiles: n, pointStride: 4, tapStride: 1,
                                     columns: columns, tileRow: ty, tile: tx, output: output, streaming: false, activation)
                    tx &+= 2
                }
            }
        }

        /// The column transform `B^T d` of one tile row, once for all its tiles (neighbouring tiles share two columns):
        /// `rows` is the first of its 6 padded rows (4 channels a pixel), `vertical` gets 24 floats (`[r][c]`) a column.
        @inline(__always)
        func transformColumns(_ rows: UnsafePointer<Float>, into vertical: UnsafeMutablePointer<Float>) {
            let r = paddedWidth &* 4
            for column in 0..<paddedWidth {
                let p = rows + column &* 4
                let t = WinogradF4.input(p.loadVector(SIMD4<Float>.self), (p + r).loadVector(SIMD4<Float>.self),
                                         (p + 2 &* r).loadVector(SIMD4<Float>.self), (p + 3 &* r).loadVector(SIMD4<Float>.self),
                                         (p + 4 &* r).loadVector(SIMD4<Float>.self), (p + 5 &* r).loadVector(SIMD4<Float>.self))
                let d = vertical + column &* 24
                d.storeVector(t.0); (d + 4).storeVector(t.1); (d + 8).storeVector(t.2)
                (d + 12).storeVector(t.3); (d + 16).storeVector(t.4); (d + 20).storeVector(t.5)
            }
        }

        /// The row transform `(B^T d) B` of tile `tile` of the row: six columns of 24 floats (6 rows x 4 channels) into
        /// `V[r][s][c]` at `dst + (s * 6 + r) * pointStride + c` (and at `copy` floats past that, if not 0).
        @inline(__always)
        func transformRows(_ vertical: UnsafePointer<Float>, tile: Int, into dst: UnsafeMutablePointer<Float>, pointStride: Int,
                           copyAt copy: Int = 0) {
            let p = vertical + tile &* 96
            let lo = WinogradF4.input(p.loadVector(SIMD16<Float>.self), (p + 24).loadVector(SIMD16<Float>.self),
                                      (p + 48).loadVector(SIMD16<Float>.self), (p + 72).loadVector(SIMD16<Float>.self),
                                      (p + 96).loadVector(SIMD16<Float>.self), (p + 120).loadVector(SIMD16<Float>.self))
            let hi = WinogradF4.input((p + 16).loadVector(SIMD8<Float>.self), (p + 40).loadVector(SIMD8<Float>.self),
                                      (p + 64).loadVector(SIMD8<Float>.self), (p + 88).loadVector(SIMD8<Float>.self),
                                      (p + 112).loadVector(SIMD8<Float>.self), (p + 136).loadVector(SIMD8<Float>.self))
            @inline(__always) func store(_ s: Int, _ lo: SIMD16<Float>, _ hi: SIMD8<Float>) {
                let d = dst + s &* 6 &* pointStride
                if pointStride == 4 {
                    d.storeVector(lo); (d + 16).storeVector(hi)
                    return
                }
                // The 6 rows' 4 channels, one point each.
                @inline(__always) func scatter(to e: UnsafeMutablePointer<Float>) {
                    e.storeVector(lo.lowHalf.lowHalf); (e + pointStride).storeVector(lo.lowHalf.highHalf)
                    (e + 2 &* pointStride).storeVector(lo.highHalf.lowHalf); (e + 3 &* pointStride).storeVector(lo.highHalf.highHalf)
                    (e + 4 &* pointStride).storeVector(hi.lowHalf); (e + 5 &* pointStride).storeVector(hi.highHalf)
                }
                scatter(to: d)
                if copy != 0 { scatter(to: d + copy) }
            }
            store(0, lo.0, hi.0); store(1, lo.1, hi.1); store(2, lo.2, hi.2)
            store(3, lo.3, hi.3); store(4, lo.4, hi.4); store(5, lo.5, hi.5)
        }

        /// Products, output transform and stores of `tiles` tiles (at most `T.count`) from tile `tile` of tile row
        /// `tileRow`: input channel c of point `(r, s)` of tile k is `first[k * tileStride + (s * 6 + r) * pointStride +
        /// c * tapStride]`. Each weight load serves `T.count` tiles (a missing last tile is computed, not stored); per
        /// column of 6 points the products go straight into the output transform's columns `A^T M`, never to memory.
        @inline(__always)
        func multiplyAndStore<V: SIMD, C: ChannelCount, T: TileCount>(_: V.Type, _: C.Type, _: T.Type, _ first: UnsafePointer<Float>,
                                                                     tileStride: Int, tiles: Int, pointStride: Int, tapStride: Int,
                                                                     columns: VectorSlots<V>, tileRow ty: Int, tile tx: Int,
                                                                     output: UnsafeMutablePointer<Float>, streaming: Bool,
                                                                     _ activation: FusedActivation) where V.Scalar == Float {
            let cin = C.count, four = T.count == 4, g = geometry, cout = g.outChannels, w = V.scalarCount
            let u0 = weights.constPointer, b0 = bias.constPointer
            let validRows = min(4, g.outHeight &- ty &* 4)
            let t0 = first, t1 = first + min(1, tiles &- 1) &* tileStride, t2 = first + min(2, tiles &- 1) &* tileStride
            let t3 = first + min(3, tiles &- 1) &* tileStride
            for vector in 0..<outVectors {
                let u = u0 + vector &* (36 &* cin &* w)
                for x in 0..<6 {
                    // M[r][x] of the tiles for the six points of column x.
                    @inline(__always) func point(_ r: Int) -> (V, V, V, V) {
                        let xi = r &* 6 &+ x
                        let ux = u + xi &* cin &* w, at = (x &* 6 &+ r) &* pointStride
                        let va = t0 + at, vb = t1 + at, vc = t2 + at, vd = t3 + at
                        let u = ux.loadVector(V.self)
                        var a = u * V(repeating: va[0]), b = u * V(repeating: vb[0]), c = V(), d = V()
                        if four { c = u * V(repeating: vc[0]); d = u * V(repeating: vd[0]) }
                        for k in 1..<cin {
                            let u = (ux + k &* w).loadVector(V.self)
                            a = a.addingProduct(u, V(repeating: va[k &* tapStride]))
                            b = b.addingProduct(u, V(repeating: vb[k &* tapStride]))
                            if four {
                                c = c.addingProduct(u, V(repeating: vc[k &* tapStride]))
                                d = d.addingProduct(u, V(repeating: vd[k &* tapStride]))
                            }
                        }
                        return (a, b, c, d)
                    }
                    let m0 = point(0), m1 = point(1), m2 = point(2), m3 = point(3), m4 = point(4), m5 = point(5)
                    let a = WinogradF4.output(m0.0, m1.0, m2.0, m3.0, m4.0, m5.0)
                    columns[x] = a.0; columns[6 &+ x] = a.1; columns[12 &+ x] = a.2; columns[18 &+ x] = a.3
                    let b = WinogradF4.output(m0.1, m1.1, m2.1, m3.1, m4.1, m5.1)
                    columns[24 &+ x] = b.0; columns[30 &+ x] = b.1; columns[36 &+ x] = b.2; columns[42 &+ x] = b.3
                    if four {
                        let c = WinogradF4.output(m0.2, m1.2, m2.2, m3.2, m4.2, m5.2)
                        columns[48 &+ x] = c.0; columns[54 &+ x] = c.1; columns[60 &+ x] = c.2; columns[66 &+ x] = c.3
                        let d = WinogradF4.output(m0.3, m1.3, m2.3, m3.3, m4.3, m5.3)
                        columns[72 &+ x] = d.0; columns[78 &+ x] = d.1; columns[84 &+ x] = d.2; columns[90 &+ x] = d.3
                    }
                }
                // The rows `(A^T M) A` of the tiles from their columns, plus bias and the fused activation, stored cropped
                // at the image's edges.
                let c0 = vector &* w, count = min(w, cout &- c0)
                let bias = (b0 + c0).loadVector(V.self)
                for k in 0..<tiles {
                    let validCols = min(4, g.outWidth &- (tx &+ k) &* 4)
                    for r in 0..<validRows {
                        let row = k &* 24 &+ r &* 6
                        let o = WinogradF4.output(columns[row], columns[row &+ 1], columns[row &+ 2], columns[row &+ 3],
                                                  columns[row &+ 4], columns[row &+ 5])
                        let pixel: Int = (ty &* 4 &+ r) &* g.outWidth &+ (tx &+ k) &* 4
                        let dst: UnsafeMutablePointer<Float> = output + (pixel &* cout &+ c0)
                        if streaming && validCols == 4 {
                            stream(activation.apply(o.0 + bias), to: dst); stream(activation.apply(o.1 + bias), to: dst + cout)
                            stream(activation.apply(o.2 + bias), to: dst + 2 &* cout); stream(activation.apply(o.3 + bias), to: dst + 3 &* cout)
                            continue
                        }
                        dst.storeVector(activation.apply(o.0 + bias), count: count)
                        if validCols > 1 { (dst + cout).storeVector(activation.apply(o.1 + bias), count: count) }
                        if validCols > 2 { (dst + 2 &* cout).storeVector(activation.apply(o.2 + bias), count: count) }
                        if validCols > 3 { (dst + 3 &* cout).storeVector(activation.apply(o.3 + bias), count: count) }
                    }
                }
            }
        }
    }
}

extension F32ConvWinogradNarrow.Plan {
    /// Whether `runVolume` can run this plan on a one-channel volume whose depth taps, `dilation` slices apart, are
    /// the plan's input channels: the taps of one output slice must lie within 5 consecutive slices.
    public func runsVolume(depthDilation dilation: Int) -> Bool {
        geometry.inChannels >= 2 && (geometry.inChannels - 1) * dilation <= 4
    }

    /// Work items of `runVolume` per image: rows of tiles, each through the whole depth.
    public var volumeWorkItems: Int { tilesY }

    /// Scratch floats a thread needs in `runVolume`: the output transform's columns, the tile row's transformed
    /// input for two groups of 4 slices, the group's 6 padded rows and their column transform.
    public var volumeScratchFloats: Int { 96 * lanes + tilesX * 432 + paddedWidth * 24 + paddedWidth * 24 }

    /// Tile rows `tileRows` of every output slice of one image of a one-channel volume (`depth.inDepth` slices of
    /// `inHeight x inWidth` floats), into `output` (`depth.outDepth` NHWC slices), with the depth taps read from
    /// the volume instead of stacked per output slice.
    ///
    /// The stacked kernel transforms every input slice once for each tap that reads it (3 times for a 3x3x3 window)
    /// after stacking it. Here a tile row of 4 consecutive slices (a group, padded depth `4 g ..< 4 g + 4`) is
    /// stacked and transformed once, the slices in the 4 channels of each pixel, and kept while output slices read
    /// it. Each point of a tile holds 12 floats: the even group's 4 slices, the odd group's, and the even group's
    /// again, so the taps of any output slice (padded depth `p ..< p + 5`) are consecutive floats from `p % 8`:
    /// the products read them as the stacked kernel reads its channels, with the same bits.
    ///
    /// An image's output of `streamedOutputBytes` or more is written with streaming stores (`streaming` overrides
    /// the choice; either way only whole vectors of output channels at aligned addresses are streamed).
    public func runVolume(_ volume: UnsafePointer<Float>, depth: DepthTaps, output: UnsafeMutablePointer<Float>, tileRows: Range<Int>,
                          scratch: UnsafeMutablePointer<Float>, activation: FusedActivation, streaming: Bool? = nil) {
        precondition(runsVolume(depthDilation: depth.dilation), "the narrow kernel's volume run needs 2-4 taps within 5 slices")
        let outputBytes = depth.outDepth * geometry.outputShape.elementsPerImage * 4
        let streams = (streaming ?? (outputBytes >= Self.streamedOutputBytes)) && geometry.outChannels % lanes == 0
            && Int(bitPattern: output) % (lanes * 4) == 0
        if CompiledISA.tileWidth == 16 {
            runVolume(SIMD16<Float>.self, volume, depth, output, tileRows, scratch, streams, activation)
        } else {
            runVolume(SIMD8<Float>.self, volume, depth, output, tileRows, scratch, streams, activation)
        }
        if streams { segrun_stream_fence() }
    }

    /// Bytes of one image's output from which `runVolume` streams it past the caches. The first layer of unet3d-s
    /// at 64^3 writes 16 MiB: streamed, it took 1.23-1.33 instead of 1.69-1.82 ms in the network and the next layer,
    /// which reads it, ran no slower; at 32^3 (2 MiB) the next layer ran up to 6% slower after streaming.
    public static let streamedOutputBytes = 8 << 20

    @inline(__always)
    func runVolume<V: SIMD>(_: V.Type, _ volume: UnsafePointer<Float>, _ depth: DepthTaps, _ output: UnsafeMutablePointer<Float>,
                            _ tileRows: Range<Int>, _ scratch: UnsafeMutablePointer<Float>, _ streaming: Bool,
                            _ activation: FusedActivation) where V.Scalar == Float {
        switch geometry.inChannels {
        case 2: runVolume(V.self, TwoChannels.self, volume, depth, output, tileRows, scratch, streaming, activation)
        case 3: runVolume(V.self, ThreeChannels.self, volume, depth, output, tileRows, scratch, streaming, activation)
        default: runVolume(V.self, FourChannels.self, volume, depth, output, tileRows, scratch, streaming, activation)
        }
    }

    @inline(__always)
    func runVolume<V: SIMD, C: ChannelCount>(_: V.Type, _: C.Type, _ volume: UnsafePointer<Float>, _ depth: DepthTaps,
                                             _ output: UnsafeMutablePointer<Float>, _ tileRows: Range<Int>,
                                             _ scratch: UnsafeMutablePointer<Float>, _ streaming: Bool,
                                             _ activation: FusedActivation) where V.Scalar == Float {
        if V.scalarCount == 16 {
            runVolume(V.self, C.self, FourTiles.self, volume, depth, output, tileRows, scratch, streaming, activation)
        } else {
            runVolume(V.self, C.self, TwoTiles.self, volume, depth, output, tileRows, scratch, streaming, activation)
        }
    }

    @inline(__always)
    func runVolume<V: SIMD, C: ChannelCount, T: TileCount>(_: V.Type, _: C.Type, _: T.Type, _ volume: UnsafePointer<Float>,
                                                           _ depth: DepthTaps, _ output: UnsafeMutablePointer<Float>, _ tileRows: Range<Int>,
                                                           _ scratch: UnsafeMutablePointer<Float>, _ streaming: Bool,
                                                           _ activation: FusedActivation) where V.Scalar == Float {
        let g = geometry, pw = paddedWidth, w = V.scalarCount
        let columns = VectorSlots<V>(base: UnsafeMutableRawPointer(scratch))  // (A^T M)[i][x] of each tile, 4 x 6
        let groups = scratch + 96 &* w  // `V[r][s]` of each tile: 432 floats, `(s * 6 + r) * 12 + slot`
        let rows = groups + tilesX &* 432  // the group's 6 padded rows, 4 slices a pixel
        let vertical = rows + pw &* 24  // their column transform, 24 floats a padded column
        let slice = g.inHeight &* g.inWidth, outSlice = g.outHeight &* g.outWidth &* g.outChannels
        let span = (C.count &- 1) &* depth.dilation
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 1) { zero in
            zero[0] = 0
            /// Stacks and transforms group `group` of tile row `ty` into its slots.
            func transform(_ group: Int, tileRow ty: Int) {
                @inline(__always) func source(_ lane: Int) -> PixelSource {
                    let z = group &* 4 &+ lane &- depth.padBegin
                    if z >= 0 && z < depth.inDepth { return PixelSource(volume + z &* slice, stride: 1) }
                    return PixelSource(UnsafePointer(zero.baseAddress!), stride: 0)
                }
                let sources = (source(0), source(1), source(2), source(3))
                for i in 0..<6 { stackRow(ty &* 4 &+ i, sources, into: rows + i &* pw &* 4) }
                transformColumns(rows, into: vertical)
                let even = group % 2 == 0
                for tx in 0..<tilesX {
                    transformRows(vertical, tile: tx, into: groups + (tx &* 432 &+ (even ? 0 : 4)), pointStride: 12, copyAt: even ? 8 : 0)
                }
            }
            for ty in tileRows {
                var held = (even: -1, odd: -1)
                for oz in 0..<depth.outDepth {
                    let first = oz &* depth.stride  // padded depth of tap 0
                    for group in (first / 4)...((first &+ span) / 4) {
                        if group % 2 == 0 {
                            if held.even != group { transform(group, tileRow: ty); held.even = group }
                        } else if held.odd != group {
                            transform(group, tileRow: ty); held.odd = group
                        }
                    }
                    let taps = groups + first % 8, out = output + oz &* outSlice
                    var tx = 0
                    while tx < tilesX {
                        let n = min(T.count, tilesX &- tx), a = taps + tx &* 432
                        if depth.dilation == 1 {  // the taps' offsets as constants
                            multiplyAndStore(V.self, C.self, T.self, a, tileStride: 432, tiles: n, pointStride: 12, tapStride: 1,
                                             columns: columns, tileRow: ty, tile: tx, output: out, streaming: streaming, activation)
                        } else {
                            multiplyAndStore(V.self, C.self, T.self, a, tileStride: 432, tiles: n, pointStride: 12, tapStride: depth.dilation,
                                             columns: columns, tileRow: ty, tile: tx, output: out, streaming: streaming, activation)
                        }
                        tx &+= T.count
                    }
                }
            }
        }
    }
}

/// One input channel of the narrow kernel's stacking: channel values at `base[pixel * stride]` (stride 0: a zero).
struct PixelSource {
    let base: UnsafePointer<Float>
    let stride: Int
    init(_ base: UnsafePointer<Float>, stride: Int) { self.base = base; self.stride = stride }
}

/// An input-channel count as a type, so each specialized copy of the narrow kernel has it as a constant.
protocol ChannelCount { static var count: Int { get } }
enum OneChannel: ChannelCount { static var count: Int { 1 } }
enum TwoChannels: ChannelCount { static var count: Int { 2 } }
enum ThreeChannels: ChannelCount { static var count: Int { 3 } }
enum FourChannels: ChannelCount { static var count: Int { 4 } }

/// Tiles per weight load as a type: four where 32 vector registers hold their 24 sums (16-lane builds), else two.
protocol TileCount { static var count: Int { get } }
enum TwoTiles: TileCount { static var count: Int { 2 } }
enum FourTiles: TileCount { static var count: Int { 4 } }
#endif
