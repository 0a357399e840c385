#if !SEGRUN_EDGE  // segrun-edge has no room for this kernel under 1.5 MB (`ConvAlgorithm.winogradNarrow`)
/// Winograd F(4x4,3x3) for 3x3 stride-1 layers with at most 4 input channels (`f32-conv3x3-winograd-f4-narrow`):
/// a network's first layer, on a gray or RGB image, or on a volume's one channel with its three depth taps stacked.
///
/// The general Winograd kernel (`F32ConvWinograd`) puts input channels in the vector lanes and runs the
/// per-point products as GEMMs: with 1-4 input channels it transforms vectors that are mostly padding, and its
/// GEMMs have a depth of one vector. Here the output channels are the lanes. Per row of 4x4 output tiles:
/// 1. the column transform `B^T d` of every padded column, once (neighbouring tiles share two columns), the 4
///    channels of a pixel one vector; then, per pair of tiles, the row transform `(B^T d) B`, each column's 6 rows
///    x 4 channels at once;
/// 2. for each vector of output channels, column by column of the 6x6 points, the products
///    `M[xi] = sum_c V[xi][c] U[xi][c]` (a broadcast input value times a vector of weights, each weight load
///    serving both tiles) go straight into the output transform's columns `A^T M`, never to memory;
/// 3. the rows `(A^T M) A`, plus bias and the fused activation, stored cropped at the image's edges.
/// A 3x3x3 1->16 layer at 64^3 ran 4.2 ms by implicit GEMM (a depth of 27 per output vector, 46% of peak); here a
/// tile of 16 outputs costs 108 vector products and the transforms' additions, which run beside them: about
/// 1.9 ms (BENCHMARKS.md, "fifteenth session").
///
/// Work items are rows of tiles. Scratch per thread: `scratchFloats`.
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
        /// Two transformed tiles (36 x 4 each), the two tiles' columns `A^T M` (2 x 24 vectors) and the tile row's
        /// column transform (24 floats a padded column).
        public var scratchFloats: Int { 2 * 36 * 4 + 48 * lanes + paddedWidth * 24 }

        /// Pads rows `rows` of one NHWC image into `dst` (4 channels a pixel, zeros past the input's).
        public func prepareInput(_ image: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            withUnsafePointer(to: Optional(image)) { source in
                prepareInput(ChannelBlocks(sources: source, count: 1, channels: geometry.inChannels), into: dst, rows: rows)
            }
        }

        /// `prepareInput` of an image given as stacked channel blocks (a volume's depth taps).
        public func prepareInput(_ blocks: ChannelBlocks, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            let g = geometry, pw = paddedWidth, width = g.inWidth, c = blocks.channels
            precondition(blocks.stackedChannels == g.inChannels, "stacked blocks must make the input's channels")
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 1) { zero in
                zero[0] = 0
                // Channel k of a pixel: `sources[k][pixel * strides[k]]`; a channel past the input's (or a block in the
                // depth padding) reads the one zero with stride 0, so the pixel loop has no branches.
                func source(_ k: Int) -> (UnsafePointer<Float>, Int) {
                    if k < g.inChannels, let block = blocks.sources[k / c] { return (block + k % c, c) }
                    return (UnsafePointer(zero.baseAddress!), 0)
                }
                let (s0, s1, s2, s3) = (source(0), source(1), source(2), source(3))
                let sources = (s0.0, s1.0, s2.0, s3.0), strides = (s0.1, s1.1, s2.1, s3.1)
                for y in rows {
                    let row = dst + y &* pw &* 4, sy = y &- g.padTop
                    if sy < 0 || sy >= g.inHeight {
                        row.update(repeating: 0, count: pw &* 4)
                        continue
                    }
                    for x in 0..<g.padLeft { (row + x &* 4).storeVector(SIMD4<Float>()) }
                    let interior = row + g.padLeft &* 4, first = sy &* width
                    var p = (sources.0 + first &* strides.0, sources.1 + first &* strides.1, sources.2 + first &* strides.2,
                             sources.3 + first &* strides.3)
                    for x in 0..<width {
                        (interior + x &* 4).storeVector(SIMD4<Float>(p.0.pointee, p.1.pointee, p.2.pointee, p.3.pointee))
                        p.0 += strides.0; p.1 += strides.1; p.2 += strides.2; p.3 += strides.3
                    }
                    for x in width..<(pw &- g.padLeft) { (interior + x &* 4).storeVector(SIMD4<Float>()) }
                }
            }
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

        @inline(__always)
        func run<V: SIMD, C: ChannelCount>(_: V.Type, _: C.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                           _ items: Range<Int>, _ scratch: UnsafeMutablePointer<Float>,
                                           _ activation: FusedActivation) where V.Scalar == Float {
            let cin = C.count, g = geometry, cout = g.outChannels, pw = paddedWidth, w = V.scalarCount
            // Two tiles side by side share each weight vector's load; a lone last tile is computed twice, stored once.
            let tiles = (scratch, scratch + 144)  // V of each: `V[r][s][c]` at `(s * 6 + r) * 4 + c`
            let columns = VectorSlots<V>(base: UnsafeMutableRawPointer(scratch + 288))  // (A^T M)[i][x] of each, 2 x 4 x 6
            let vertical = scratch + 288 + 48 * w  // (B^T d) of the tile row: `[X][r][c]`, 24 floats a padded column X
            let u0 = weights.constPointer, b0 = bias.constPointer
            for ty in items {
                let validRows = min(4, g.outHeight &- ty &* 4)
                // The columns' transform `B^T d` once for the whole tile row (neighbouring tiles share two columns).
                let top = input + (ty &* 4) &* pw &* 4
                for column in 0..<pw {
                    let p = top + column &* 4, r = pw &* 4
                    let t = WinogradF4.input(p.loadVector(SIMD4<Float>.self), (p + r).loadVector(SIMD4<Float>.self),
                                             (p + 2 &* r).loadVector(SIMD4<Float>.self), (p + 3 &* r).loadVector(SIMD4<Float>.self),
                                             (p + 4 &* r).loadVector(SIMD4<Float>.self), (p + 5 &* r).loadVector(SIMD4<Float>.self))
                    let d = vertical + column &* 24
                    d.storeVector(t.0); (d + 4).storeVector(t.1); (d + 8).storeVector(t.2)
                    (d + 12).storeVector(t.3); (d + 16).storeVector(t.4); (d + 20).storeVector(t.5)
                }
                var tx = 0
                while tx < tilesX {
                    let pair = tx &+ 1 < tilesX
                    for k in 0..<(pair ? 2 : 1) {
                        // The rows' transform: six columns of 24 floats (6 rows x 4 channels) into `V[s]`.
                        let p = vertical + (tx &+ k) &* 96, dst = k == 0 ? tiles.0 : tiles.1
                        let lo = WinogradF4.input(p.loadVector(SIMD16<Float>.self), (p + 24).loadVector(SIMD16<Float>.self),
                                                  (p + 48).loadVector(SIMD16<Float>.self), (p + 72).loadVector(SIMD16<Float>.self),
                                                  (p + 96).loadVector(SIMD16<Float>.self), (p + 120).loadVector(SIMD16<Float>.self))
                        let hi = WinogradF4.input((p + 16).loadVector(SIMD8<Float>.self), (p + 40).loadVector(SIMD8<Float>.self),
                                                  (p + 64).loadVector(SIMD8<Float>.self), (p + 88).loadVector(SIMD8<Float>.self),
                                                  (p + 112).loadVector(SIMD8<Float>.self), (p + 136).loadVector(SIMD8<Float>.self))
                        dst.storeVector(lo.0); (dst + 16).storeVector(hi.0)
                        (dst + 24).storeVector(lo.1); (dst + 40).storeVector(hi.1)
                        (dst + 48).storeVector(lo.2); (dst + 64).storeVector(hi.2)
                        (dst + 72).storeVector(lo.3); (dst + 88).storeVector(hi.3)
                        (dst + 96).storeVector(lo.4); (dst + 112).storeVector(hi.4)
                        (dst + 120).storeVector(lo.5); (dst + 136).storeVector(hi.5)
                    }
                    let tileB = pair ? tiles.1 : tiles.0
                    for vector in 0..<outVectors {
                        let u = u0 + vector &* (36 &* cin &* w)
                        for x in 0..<6 {
                            // M[r][x] of both tiles for the six points of column x.
                            @inline(__always) func point(_ r: Int) -> (V, V) {
                                let xi = r &* 6 &+ x
                                let ux = u + xi &* cin &* w, at = (x &* 6 &+ r) &* 4, va = tiles.0 + at, vb = tileB + at
                                let u = ux.loadVector(V.self)
                                var a = u * V(repeating: va[0]), b = u * V(repeating: vb[0])
                                for c in 1..<cin {
                                    let u = (ux + c &* w).loadVector(V.self)
                                    a = a.addingProduct(u, V(repeating: va[c]))
                                    b = b.addingProduct(u, V(repeating: vb[c]))
                                }
                                return (a, b)
                            }
                            let m0 = point(0), m1 = point(1), m2 = point(2), m3 = point(3), m4 = point(4), m5 = point(5)
                            let a = WinogradF4.output(m0.0, m1.0, m2.0, m3.0, m4.0, m5.0)
                            columns[x] = a.0; columns[6 &+ x] = a.1; columns[12 &+ x] = a.2; columns[18 &+ x] = a.3
                            let b = WinogradF4.output(m0.1, m1.1, m2.1, m3.1, m4.1, m5.1)
                            columns[24 &+ x] = b.0; columns[30 &+ x] = b.1; columns[36 &+ x] = b.2; columns[42 &+ x] = b.3
                        }
                        let c0 = vector &* w, count = min(w, cout &- c0)
                        let bias = (b0 + c0).loadVector(V.self)
                        for k in 0..<(pair ? 2 : 1) {
                            let validCols = min(4, g.outWidth &- (tx &+ k) &* 4)
                            for r in 0..<validRows {
                                let row = k &* 24 &+ r &* 6
                                let o = WinogradF4.output(columns[row], columns[row &+ 1], columns[row &+ 2], columns[row &+ 3],
                                                          columns[row &+ 4], columns[row &+ 5])
                                let pixel: Int = (ty &* 4 &+ r) &* g.outWidth &+ (tx &+ k) &* 4
                                let dst: UnsafeMutablePointer<Float> = output + (pixel &* cout &+ c0)
                                dst.storeVector(activation.apply(o.0 + bias), count: count)
                                if validCols > 1 { (dst + cout).storeVector(activation.apply(o.1 + bias), count: count) }
                                if validCols > 2 { (dst + 2 &* cout).storeVector(activation.apply(o.2 + bias), count: count) }
                                if validCols > 3 { (dst + 3 &* cout).storeVector(activation.apply(o.3 + bias), count: count) }
                            }
                        }
                    }
                    tx &+= 2
                }
            }
        }
    }
}

/// An input-channel count as a type, so each specialized copy of the narrow kernel has it as a constant.
protocol ChannelCount { static var count: Int { get } }
enum OneChannel: ChannelCount { static var count: Int { 1 } }
enum TwoChannels: ChannelCount { static var count: Int { 2 } }
enum ThreeChannels: ChannelCount { static var count: Int { 3 } }
enum FourChannels: ChannelCount { static var count: Int { 4 } }
#endif
