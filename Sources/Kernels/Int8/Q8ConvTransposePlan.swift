/// Int8 transposed convolution whose kernel equals its stride, with no padding (the U-Net up-step,
/// 2x2 stride 2): every input pixel owns a disjoint `k x k` patch of output pixels, so the layer is
/// one GEMM of the input pixels (depth = input channels) against `k * k * outChannels` columns,
/// ordered (ky, kx, out channel), whose sums are scattered to the patch.
public final class Q8ConvTransposePlan: Q8GemmLayerPlan {
    public let geometry: ConvTranspose2dGeometry
    public let weights: Q8PackedWeights
    /// The same weights for `Q8DotMicrokernel`, when this plan multiplies with dot products.
    public let dotWeights: Q8DotPackedWeights?
    public let stage: Q8OutputStage
    public let inputZeroPoint: UInt8
    public let blockPixels: Int

    /// Whether this plan can compute `g`.
    public static func supports(_ g: ConvTranspose2dGeometry) -> Bool {
        g.kernelHeight == g.strideY && g.kernelWidth == g.strideX && g.dilationY == 1 && g.dilationX == 1
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
            && g.outputPaddingY == 0 && g.outputPaddingX == 0
    }

    /// - Parameters:
    ///   - weights: IOHW int8 weights `[in][out][kh][kw]`.
    ///   - bias, multipliers: per output channel, as for `Q8Conv2dPlan`.
    @export(interface)
    public convenience init(_ g: ConvTranspose2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                            inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget) throws(ShapeError) {
        try self.init(g, weights: weights, bias: bias, multipliers: multipliers, inputZeroPoint: inputZeroPoint,
                      activation: activation, output: output, dotProduct: Q8DotMicrokernel.isAvailable)
    }

    /// - Parameter dotProduct: multiply with `Q8DotMicrokernel` (as `Q8Conv2dPlan` does); the same bits either way.
    @export(interface)
    public init(_ g: ConvTranspose2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget, dotProduct: Bool) throws(ShapeError) {
        if let error = g.validate() { throw error }
        guard Q8ConvTransposePlan.supports(g) else {
            throw .mismatch("int8 transposed convolution needs kernel == stride and no padding, got \(g)")
        }
        if multipliers.count != g.outChannels { throw .mismatch("\(multipliers.count) multipliers for \(g.outChannels) channels") }
        geometry = g
        let taps = g.kernelHeight * g.kernelWidth, cout = g.outChannels
        let packed = Q8PackedWeights(depth: g.inChannels, columns: taps * cout) { j, ci in
            let tap = j / cout, o = j % cout
            return weights[(ci * cout + o) * taps + tap]
        }
        self.weights = packed
        dotWeights = dotProduct ? Q8DotPackedWeights(depth: g.inChannels, columns: taps * cout) { j, ci in
            weights[(ci * cout + j % cout) * taps + j / cout]
        } : nil
        let shift: Int32 = dotProduct ? Int32(Q8DotMicrokernel.activationFlip) : 0
        var offsets = [Int32](repeating: 0, count: taps * cout), columnMultipliers = [Float](repeating: 0, count: taps * cout)
        for j in 0..<taps * cout {
            let o = j % cout
            offsets[j] = (bias?[o] ?? 0) &- Int32(inputZeroPoint) &* packed.columnSums[j] &+ shift &* packed.columnSums[j]
            columnMultipliers[j] = multipliers[o]
        }
        stage = Q8OutputStage(multipliers: columnMultipliers, offsets: offsets, activation: activation, target: output)
        self.inputZeroPoint = inputZeroPoint
        blockPixels = packed.gemmBlockPixels
    }

    public var pixels: Int { geometry.inHeight * geometry.inWidth }
    public var columnGroups = 1

    /// Computes input-pixel blocks `items` of one image.
    @export(interface)
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>,
                    scratch: UnsafeMutableRawPointer) {
        let cin = geometry.inChannels
        let end = input + pixels &* cin
        if let dot = dotWeights {
            // Dot products: each input pixel's channels as bytes (`x ^ activationFlip`), zero-padded to quads.
            let stride = dot.depthQuads * 4, quads = dot.depthQuads, flip = Q8DotMicrokernel.activationFlip
            let gather = { (first: Int, count: Int, rows: UnsafeMutablePointer<Int8>) in
                for r in 0..<count {
                    let dst = rows + r &* stride
                    Q8Conv2dPlan.copyFlipped(input + (first &+ r) &* cin, count: cin, end: end, flip: flip, to: dst)
                    for k in cin..<stride { dst[k] = 0 }
                }
            }
            #if arch(x86_64) && SEGRUN_VNNI_ZMM
            if readsRowsInPlace {
                runRows(dot, input: input, output: output, items: items)
                return
            }
            runTiles(Int8.self, rowStride: stride, output: output, items: items, scratch: scratch, gather: gather,
                     block: { dot.block($0) }, pairs: true,
                     multiply: { a, b, tile in Q8DotMicrokernel.run(depthQuads: quads, a: a, b: b, tile: tile) },
                     multiplyPair: { a, b0, b1, tile in Q8DotMicrokernel.runPair(depthQuads: quads, a: a, b0: b0, b1: b1, tile: tile) })
            #else
            runTiles(Int8.self, rowStride: stride, output: output, items: items, scratch: scratch, gather: gather,
                     block: { dot.block($0) }, pairs: false,
                     multiply: { a, b, tile in Q8DotMicrokernel.run(depthQuads: quads, a: a, b: b, tile: tile) },
                     multiplyPair: { _, _, _, _ in })
            #endif
        } else {
            let pairs = weights.depthPairs, stride = pairs &* 2
            runTiles(Int16.self, rowStride: stride, output: output, items: items, scratch: scratch,
                     gather: { first, count, rows in
                         for r in 0..<count {
                             let dst = rows + r &* stride
                             Q8Conv2dPlan.widen(input + (first &+ r) &* cin, count: cin, end: end, to: dst)
                             if cin & 1 == 1 { dst[cin] = 0 }
                         }
                     },
                     block: { self.weights.block($0) }, pairs: false,
                     multiply: { a, b, tile in Q8Microkernel.run(depthPairs: pairs, a: a, b: b, tile: tile) },
                     multiplyPair: { _, _, _, _ in })
        }
    }

    /// Whether the dot path reads input pixels where they lie (`runRows`): AVX512-VNNI builds (unflipped bytes) and
    /// input channels in whole quads, so a pixel's row is exactly its `depthQuads` quads.
    var readsRowsInPlace: Bool {
        Q8DotMicrokernel.hasPairTile && Q8DotMicrokernel.activationFlip == 0 && dotWeights != nil && geometry.inChannels & 3 == 0
    }

    #if arch(x86_64) && SEGRUN_VNNI_ZMM
    /// The VNNI path without gathering: an image's input pixels are consecutive rows of `inChannels` bytes, so a
    /// tile's rows are read at a fixed step from its first pixel (`runPair(base:...)`, a column group's odd last
    /// block on the 12 x 16 tile). The sums of each tap go to output pixels `kw` apart along an input row:
    /// `storeRows` per run of the tile's rows within one input row. Same sums and output stage, so the same bits.
    private func runRows(_ dot: Q8DotPackedWeights, input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>) {
        let g = geometry, cin = g.inChannels, cout = g.outChannels, quads = dot.depthQuads
        let outWidth = g.inWidth &* g.kernelWidth, elementBytes = stage.elementBytes
        let tapStep = g.kernelWidth &* cout &* elementBytes, blockColumns = Q8Microkernel.columns, columns = weights.columns
        let source = UnsafeRawPointer(input).assumingMemoryBound(to: Int8.self)
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: Q8DotMicrokernel.tallRows * blockColumns) { tileBuffer in
            let tile = tileBuffer.baseAddress!
            for item in items {
                let pixelBlock = item / columnGroups, blocks = blockRange(item &- pixelBlock &* columnGroups)
                let first = pixelBlock &* blockPixels, end = min(first &+ blockPixels, pixels)
                var block = blocks.lowerBound
                while block < blocks.upperBound {
                    let span = block &+ 1 < blocks.upperBound ? 2 : 1
                    let height = span == 2 ? Q8Microkernel.rows : Q8DotMicrokernel.tallRows, tileColumns = span &* blockColumns
                    let column = block &* blockColumns, width = min(tileColumns, columns &- column)
                    let b0 = dot.block(block), b1 = span == 2 ? dot.block(block &+ 1) : b0
                    var p = first
                    while p < end {
                        let n = min(height, end &- p), base = source + p &* cin
                        if span == 2 {
                            Q8DotMicrokernel.runPair(segments: 1, segmentQuads: quads, base: base, rowStep: cin, segmentStep: 0,
                                                     count: n, b0: b0, b1: b1, tile: tile)
                        } else {
                            Q8DotMicrokernel.runTall(segments: 1, segmentQuads: quads, base: base, rowStep: cin, segmentStep: 0,
                                                     count: n, b: b0, tile: tile)
                        }
                        // Rows r..<r + run lie in one input row; each run of columns sharing a tap goes out with storeRows.
                        var r = 0
                        while r < n {
                            let q = p &+ r, y = q / g.inWidth, x = q &- y &* g.inWidth
                            let run = min(n &- r, g.inWidth &- x)
                            let corner = y &* g.kernelHeight &* outWidth &+ x &* g.kernelWidth
                            var j = 0
                            while j < width {
                                let col = column &+ j, tap = col / cout, o = col &- tap &* cout
                                let count = min(width &- j, cout &- o)
                                let ky = tap / g.kernelWidth, kx = tap &- ky &* g.kernelWidth
                                let pixel = corner &+ ky &* outWidth &+ kx
                                stage.storeRows(UnsafePointer(tile + (r &* tileColumns &+ j)), rows: run, tileColumns: tileColumns, column: col,
                                                count: count, to: output + (pixel &* cout &+ o) &* elementBytes, rowBytes: tapStep)
                                j &+= count
                            }
                            r &+= run
                        }
                        p &+= n
                    }
                    block &+= span
                }
            }
        }
    }
    #endif

    /// The GEMM over one image's input-pixel blocks, for either microkernel (as `Q8Conv2dPlan.runTiles`): gather a
    /// block's rows once, then every column block (or pair of blocks, with `pairs`) of its group over the block's
    /// 6-row tiles, each sum stored to the output pixel of its tap.
    @inline(__always)
    private func runTiles<E>(_: E.Type, rowStride: Int, output: UnsafeMutableRawPointer, items: Range<Int>,
                             scratch: UnsafeMutableRawPointer,
                             gather: (_ first: Int, _ count: Int, _ rows: UnsafeMutablePointer<E>) -> Void,
                             block: (Int) -> UnsafePointer<E>, pairs: Bool,
                             multiply: (UnsafePointer<UnsafePointer<E>>, UnsafePointer<E>, UnsafeMutablePointer<Int32>) -> Void,
                             multiplyPair: (UnsafePointer<UnsafePointer<E>>, UnsafePointer<E>, UnsafePointer<E>, UnsafeMutablePointer<Int32>) -> Void) {
        let g = geometry, cout = g.outChannels
        let rows = scratch.bindMemory(to: E.self, capacity: blockPixels * rowStride)
        let outWidth = g.inWidth * g.kernelWidth, elementBytes = stage.elementBytes
        let columns = weights.columns, blockColumns = Q8Microkernel.columns
        withUnsafeTemporaryAllocation(of: UnsafePointer<E>.self, capacity: Q8Microkernel.rows) { aRows in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: Q8Microkernel.rows * 2 * blockColumns) { tile in
        // Per row of the block: the output pixel of its tap (0, 0). Per column tile: its runs of columns that
        // share a tap, as (first column in the tile, count, output channel, output pixel offset of the tap).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: blockPixels) { corner in
        withUnsafeTemporaryAllocation(of: (j: Int, count: Int, o: Int, offset: Int).self, capacity: 2 * blockColumns) { runs in
            var lastGathered = -1
            for item in items {
                let pixelBlock = item / columnGroups, group = item &- pixelBlock &* columnGroups
                let first = pixelBlock &* blockPixels, count = min(blockPixels, pixels &- first)
                if lastGathered != pixelBlock {
                    lastGathered = pixelBlock
                    gather(first, count, rows)
                    var y = first / g.inWidth, x = first &- y &* g.inWidth
                    for r in 0..<count {
                        corner[r] = y &* g.kernelHeight &* outWidth &+ x &* g.kernelWidth
                        x &+= 1
                        if x == g.inWidth { x = 0; y &+= 1 }
                    }
                }
                let range = blockRange(group)
                var columnBlock = range.lowerBound
                while columnBlock < range.upperBound {
                    let span = pairs && columnBlock &+ 1 < range.upperBound ? 2 : 1
                    let column = columnBlock &* blockColumns, tileColumns = span &* blockColumns
                    let width = min(tileColumns, columns &- column)
                    var runCount = 0, j = 0
                    while j < width {
                        let col = column &+ j, tap = col / cout, o = col &- tap &* cout
                        let run = min(width &- j, cout &- o)
                        let ky = tap / g.kernelWidth, kx = tap &- ky &* g.kernelWidth
                        runs[runCount] = (j, run, o, ky &* outWidth &+ kx)
                        runCount &+= 1
                        j &+= run
                    }
                    let b = block(columnBlock), b1 = span == 2 ? block(columnBlock &+ 1) : b
                    var t = 0
                    while t < count {
                        let tileRows = min(Q8Microkernel.rows, count &- t)
                        for r in 0..<Q8Microkernel.rows { aRows[r] = UnsafePointer(rows + (t &+ min(r, tileRows &- 1)) &* rowStride) }
                        if span == 2 {
                            multiplyPair(UnsafePointer(aRows.baseAddress!), b, b1, tile.baseAddress!)
                        } else {
                            multiply(UnsafePointer(aRows.baseAddress!), b, tile.baseAddress!)
                        }
                        for r in 0..<tileRows {
                            let base = corner[t &+ r]
                            for k in 0..<runCount {
                                let (j, run, o, offset) = runs[k]
                                stage.store(tile.baseAddress! + (r &* tileColumns &+ j), column: column &+ j, count: run,
                                            to: output + ((base &+ offset) &* cout &+ o) &* elementBytes)
                            }
                        }
                        t &+= Q8Microkernel.rows
                    }
                    columnBlock &+= span
                }
            }
        }
        }
        }
        }
    }
}
