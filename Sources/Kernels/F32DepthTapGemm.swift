/// A convolution whose kernel spans only the depth axis of a volume (`kd x 1 x 1`: the through-plane convolutions of
/// anisotropic networks) as an implicit GEMM straight over the input slices (`f32-conv-igemm-6x(2W)`).
///
/// One output slice reads `kd` input slices (its depth taps), and every output pixel reads the same pixel of each:
/// a tap is the same float offset from every pixel's row, so the implicit GEMM's tile runs with those offsets as its
/// taps and reads every row in place, with neither a stacked copy of the taps nor a padded one. Taps that fall in the
/// depth padding are left out: they are a prefix and a suffix of the kernel, so the taps that remain are a contiguous
/// run of the packed weights (`[block][tap][inChannel][nr]`). Each output is the sum, tap-major then channel, of the
/// products the 1x1 GEMM over the stacked taps forms (whose padding taps only add zeros to it), so the same bits.
///
/// Input: the `kd` slices of one output slice (NHWC images of `pixels` pixels, `weights.inChannels` channels).
/// Output: one NHWC slice of `pixels` pixels, `weights.outChannels` channels.
public enum F32DepthTapGemm {
    /// Work items of one output slice, which threads split into contiguous ranges (as `F32ConvIgemm.workItems`).
    public static func workItems(pixels: Int, weights: F32PackedConvWeights) -> Int {
        let tiles = (pixels + igemmTileRows - 1) / igemmTileRows
        return F32ConvIgemm.tileOuter(weights) ? tiles : tiles * weights.columnBlocks
    }

    /// Computes work items `items` of one output slice. `sources` holds `weights.taps` pointers, the input slice
    /// each depth tap reads, nil for a tap in the padding; the taps that are not nil must be contiguous. With none,
    /// the slice is the bias through the activation.
    public static func run(pixels: Int, weights: F32PackedConvWeights, sources: UnsafePointer<UnsafePointer<Float>?>,
                           output: UnsafeMutablePointer<Float>, items: Range<Int>, activation: FusedActivation) {
        let taps = weights.taps, cin = weights.inChannels
        var first = 0
        while first < taps && sources[first] == nil { first &+= 1 }
        var end = first
        while end < taps && sources[end] != nil { end &+= 1 }
        for t in end..<taps { precondition(sources[t] == nil, "depth tap \(t) reads a slice after a tap in the padding") }
        // With no tap the tile reads no input: any row pointer serves.
        let base = first < end ? sources[first]! : UnsafePointer(output)
        let cout = weights.outChannels, nr = weights.blockColumns, tapCount = end &- first
        let firstWeights = weights.data.constPointer + first &* cin &* nr
        // The tile loop of `F32ConvIgemm.run` with rows read in place. (Sharing one generic loop with it measured 7%
        // slower on 2D first layers, 3x3 3->32 at 256x256, so each keeps its own.)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, tapCount)) { offsets in
            for t in first..<end { offsets[t &- first] = sources[t]! - base }
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: igemmTileRows) { aRows in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: igemmTileRows) { cRows in
                    @inline(__always)
                    func runTile(_ tile: Int, block: Int) {
                        let firstPixel = tile &* igemmTileRows
                        let rows = min(igemmTileRows, pixels &- firstPixel)
                        for r in 0..<igemmTileRows {
                            let p = firstPixel &+ min(r, rows &- 1)
                            aRows[r] = base + p &* cin
                            cRows[r] = output + p &* cout
                        }
                        f32IgemmTileNative(a: UnsafePointer(aRows.baseAddress!), tapOffsets: UnsafePointer(offsets.baseAddress!),
                                           tapCount: tapCount, depth: cin,
                                           b: firstWeights + block &* weights.blockStride, blockColumns: nr,
                                           c: UnsafePointer(cRows.baseAddress!), columnOffset: block &* nr,
                                           rows: rows, columns: min(nr, cout &- block &* nr),
                                           bias: weights.bias.constPointer + block &* nr, activation: activation)
                    }
                    if F32ConvIgemm.tileOuter(weights) {
                        for tile in items {
                            for block in 0..<weights.columnBlocks { runTile(tile, block: block) }
                        }
                    } else {
                        let tiles = (pixels + igemmTileRows - 1) / igemmTileRows
                        for item in items { runTile(item % tiles, block: item / tiles) }
                    }
                }
            }
        }
    }
}
