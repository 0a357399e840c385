import CStreamStore

/// Direct convolution as an implicit GEMM (`f32-conv-igemm-6x(2W)`), for groups == 1 and any
/// kernel size, stride, dilation and padding.
///
/// Output pixels of one image are flattened (`p = oy * outWidth + ox`) and cut into tiles of 6;
/// each tile row points at its receptive field's corner in the *padded* input, and every tap
/// `(ky, kx)` is the same float offset from all six corners. So one microkernel call computes
/// 6 pixels x 2W output channels with no bounds tests and no im2col buffer.
///
/// Input: one image, NHWC, already zero-padded by `F32Pad` to `paddedHeight x paddedWidth x inChannels`.
/// Output: one image, NHWC dense, `outHeight x outWidth x outChannels`.
public enum F32ConvIgemm {
    /// Packed weights up to this size are iterated inside the tile loop (see `run`).
    static let tileOuterWeightBytes = 192 * 1024

    /// Tiles of 6 output pixels in one image.
    public static func tileCount(_ g: Conv2dGeometry) -> Int {
        (g.outHeight * g.outWidth + igemmTileRows - 1) / igemmTileRows
    }

    /// Pointwise inputs larger than this are read ahead (`prefetchesRows`): smaller ones are in L2 already.
    static let prefetchedInputBytes = 2 << 20

    /// Whether `run` asks for the next tile's input rows while a tile computes. A pointwise layer's tile reads its
    /// six input pixels, which lie one after another, once per column block and no other tile reads them: on an
    /// input past L2 they come from memory, at strides the hardware's prefetcher follows late (1x1x1 64->64 on
    /// 32^3 went from about 70% to 80-88% of peak). Under 32 input or output channels (the heads) a tile computes
    /// in less time than a line takes to arrive and reads few lines, which the hardware follows, and other kernels'
    /// rows are read again by the neighbouring tiles' taps: there the prefetch only costs (1x1 32->1 @256: 4% slower).
    public static func prefetchesRows(_ g: Conv2dGeometry) -> Bool {
        g.isPointwise && g.inChannels >= 32 && g.outChannels >= 32
            && g.inHeight * g.inWidth * g.inChannels * 4 > prefetchedInputBytes
    }

    /// Whether `weights` are small enough to be iterated inside the tile loop.
    static func tileOuter(_ weights: F32PackedConvWeights) -> Bool {
        weights.blockStride * weights.columnBlocks * 4 <= tileOuterWeightBytes
    }

    /// Work items of one image, which threads split into contiguous ranges.
    /// Small weights: one item per tile, covering every column block. Large weights: one item per
    /// (column block, tile), block-major, so that each thread streams only its share of the weights.
    public static func workItems(_ g: Conv2dGeometry, weights: F32PackedConvWeights) -> Int {
        tileOuter(weights) ? tileCount(g) : tileCount(g) * weights.columnBlocks
    }

    /// Computes work items `items` (see `workItems`) of one image.
    @export(interface)
    public static func run(_ g: Conv2dGeometry, weights: F32PackedConvWeights,
                           paddedInput: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                           items: Range<Int>, activation: FusedActivation) {
        let taps = g.kernelHeight * g.kernelWidth
        let cin = g.inChannels, cout = g.outChannels
        let pw = g.paddedWidth, ow = g.outWidth
        let pixels = g.outHeight * ow
        precondition(weights.inChannels == cin && weights.outChannels == cout && weights.taps == taps,
                     "packed weights \(weights.outChannels)x\(weights.inChannels)x\(weights.taps) do not fit \(g)")
        withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    offsets[ky * g.kernelWidth + kx] = (ky * g.dilationY * pw + kx * g.dilationX) * cin
                }
            }
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: igemmTileRows) { aRows in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: igemmTileRows) { cRows in
                    let nr = weights.blockColumns
                    @inline(__always)
                    func runTile(_ tile: Int, block: Int) {
                        let first = tile &* igemmTileRows
                        let rows = min(igemmTileRows, pixels &- first)
                        for r in 0..<igemmTileRows {
                            let p = first &+ min(r, rows &- 1)
                            let oy = p / ow, ox = p &- oy &* ow
                            aRows[r] = paddedInput + ((oy &* g.strideY) &* pw &+ ox &* g.strideX) &* cin
                            cRows[r] = output + p &* cout
                        }
                        f32IgemmTileNative(a: UnsafePointer(aRows.baseAddress!), tapOffsets: UnsafePointer(offsets.baseAddress!),
                                           tapCount: taps, depth: cin,
                                           b: weights.data.constPointer + block &* weights.blockStride, blockColumns: nr,
                                           c: UnsafePointer(cRows.baseAddress!), columnOffset: block &* nr,
                                           rows: rows, columns: min(nr, cout &- block &* nr),
                                           bias: weights.bias.constPointer + block &* nr, activation: activation)
                    }
                    let prefetches = prefetchesRows(g)
                    @inline(__always)
                    func prefetchRows(ofTile tile: Int) {
                        let end = min(tile &* igemmTileRows &+ igemmTileRows, pixels) &* cin
                        var float = tile &* igemmTileRows &* cin
                        while float < end { segrun_prefetch(paddedInput + float); float &+= cacheLineFloats }
                    }
                    // Small weights stay in L1/L2 while a tile's input rows are reused by every column
                    // block; large weights are walked one column block at a time across all tiles instead.
                    // One call site, so the tile is inlined once (the edge binary holds each kernel three times).
                    let outer = tileOuter(weights), tiles = tileCount(g), blocks = weights.columnBlocks
                    for item in items {
                        let tile = outer ? item : item % tiles, first = outer ? 0 : item / tiles
                        if prefetches { prefetchRows(ofTile: tile &+ 1) }
                        for block in first..<(outer ? blocks : first &+ 1) { runTile(tile, block: block) }
                    }
                }
            }
        }
    }
}

/// 1x1 convolution as a packed GEMM (`f32-conv1x1-gemm-6x(2W)`): the NHWC image *is* the
/// `pixels x inChannels` A matrix, so no padding copy is made and `F32ConvIgemm.run` reads the image itself as
/// its padded input. Requires a 1x1 kernel and no padding; any stride.
public enum F32Conv1x1Gemm {
    public static func supports(_ g: Conv2dGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.groups == 1
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
    }

    public static func workItems(_ g: Conv2dGeometry, weights: F32PackedConvWeights) -> Int {
        F32ConvIgemm.workItems(g, weights: weights)
    }
}
