/// Int8 convolution (groups 1, any kernel, stride, dilation and padding) as a GEMM over im2col rows.
///
/// The output pixels of one image are cut into blocks; for each block the receptive fields are
/// gathered once into Int16 rows (`depth = kernelHeight * kernelWidth * inChannels`, taps outer,
/// channels inner; positions in the padding get the input zero point, which stands for real 0),
/// then every column block of the packed weights runs over the block's 6-pixel tiles. The block is
/// sized so that its rows stay in L2 while the weights stream through once per block.
///
/// Input: one NHWC UInt8 image. Output: one NHWC image of UInt8 or Float (see `Q8OutputTarget`).
public final class Q8Conv2dPlan: Q8GemmLayerPlan {
    public let geometry: Conv2dGeometry
    public let weights: Q8PackedWeights
    /// The same weights for `Q8DotMicrokernel`, when this plan multiplies with dot products.
    public let dotWeights: Q8DotPackedWeights?
    public let stage: Q8OutputStage
    public let inputZeroPoint: UInt8
    /// Output pixels per work item (a multiple of 6).
    public let blockPixels: Int
    /// The path of layers with at most 4 output channels (heads), which the GEMM tile would compute 16 wide.
    let narrow: Q8NarrowConv?

    /// - Parameters:
    ///   - weights: OIHW int8 weights `[out][in][kh][kw]`.
    ///   - bias: Int32 bias at scale `inputScale * weightScale[o]`, or nil.
    ///   - multipliers: per output channel, `inputScale * weightScale[o] / outputScale` (quantized output)
    ///     or `inputScale * weightScale[o]` (float output).
    @export(interface)
    public convenience init(_ g: Conv2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                            inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget) throws(ShapeError) {
        try self.init(g, weights: weights, bias: bias, multipliers: multipliers, inputZeroPoint: inputZeroPoint,
                      activation: activation, output: output, dotProduct: Q8DotMicrokernel.isAvailable)
    }

    /// - Parameter dotProduct: multiply with `Q8DotMicrokernel` (int8 quads, `sdot` or `vpdpbusd`) instead of `Q8Microkernel`
    ///   (int16 pairs); both give the same bits. The default asks the CPU.
    @export(interface)
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget, dotProduct: Bool) throws(ShapeError) {
        if let error = g.validate() { throw error }
        if g.groups != 1 { throw .mismatch("int8 convolution needs groups 1, got \(g.groups)") }
        if multipliers.count != g.outChannels { throw .mismatch("\(multipliers.count) multipliers for \(g.outChannels) channels") }
        geometry = g
        pixels = g.outHeight * g.outWidth
        outWidth = g.outWidth
        narrow = Q8NarrowConv.supports(g) ? Q8NarrowConv(g, weights: weights, inputZeroPoint: inputZeroPoint, quads: dotProduct) : nil
        let dotProduct = dotProduct && narrow == nil
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels
        let packed = Q8PackedWeights(depth: taps * cin, columns: g.outChannels) { o, k in
            let tap = k / cin, ci = k % cin
            return weights[(o * cin + ci) * taps + tap]
        }
        self.weights = packed
        // The implicit GEMM reads each kernel row (`kw * cin` bytes) where it lies, as a whole number of quads: its
        // weights are packed row by row, each row padded with zeros to `segmentBytes`.
        let implicit = dotProduct && Q8DotMicrokernel.hasPairTile && Q8DotMicrokernel.activationFlip == 0 && g.dilationX == 1
        let run = g.kernelWidth * cin, segment = implicit ? (run + 3) / 4 * 4 : run
        readsRowsInPlace = implicit
        segmentBytes = segment
        dotWeights = !dotProduct ? nil : implicit
            ? Q8DotPackedWeights(depth: g.kernelHeight * segment, columns: g.outChannels) { o, k in
                let ky = k / segment, at = k % segment
                return at < run ? weights[(o * cin + at % cin) * taps + ky * g.kernelWidth + at / cin] : 0
            }
            : Q8DotPackedWeights(depth: taps * cin, columns: g.outChannels) { o, k in
                weights[(o * cin + k % cin) * taps + k / cin]
            }
        // Where the dot path multiplies x - 128 (`sdot`), 128 * sum(weights) puts back what the flip took away.
        let shift: Int32 = dotProduct ? Int32(Q8DotMicrokernel.activationFlip) : 0
        var offsets = [Int32](repeating: 0, count: g.outChannels)
        for o in 0..<g.outChannels {
            offsets[o] = (bias?[o] ?? 0) &- Int32(inputZeroPoint) &* packed.columnSums[o] &+ shift &* packed.columnSums[o]
        }
        stage = Q8OutputStage(multipliers: multipliers, offsets: offsets, activation: activation, target: output)
        self.inputZeroPoint = inputZeroPoint
        blockPixels = packed.gemmBlockPixels
    }

    /// Output pixels of one image (GEMM rows), and of one output row: kept, as the geometry derives them by dividing.
    public let pixels: Int
    let outWidth: Int
    public var columnGroups = 1
    /// Scratch bytes one thread needs: the block's gathered rows, or the narrow path's two kernel rows.
    public var scratchBytes: Int {
        max(weights.gatheredRowBytes(pixels: blockPixels), dotWeights.map { blockPixels * $0.depthQuads * 4 + 64 } ?? 0,
            narrow.map { $0.scratchBytes + blockPixels * 16 } ?? 0)
    }

    /// Whether the dot path reads kernel rows in place (`runImplicit`): AVX512-VNNI builds (unflipped bytes, the
    /// segmented tiles) and no horizontal dilation.
    public let readsRowsInPlace: Bool
    /// Bytes per kernel row in the dot weights' depth: `kw * cin`, rounded up to a quad where rows are read in place
    /// (the bytes read past a row meet zero weights).
    let segmentBytes: Int

    /// Computes pixel blocks `items` of one image. `output` points at the image's first element.
    @export(interface)
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>,
                    scratch: UnsafeMutableRawPointer) {
        if let narrow {
            let cout = geometry.outChannels, elementBytes = stage.elementBytes
            let sums = (scratch + narrow.scratchBytes).assumingMemoryBound(to: Int32.self)
            for item in items {
                let first = (item / columnGroups) &* blockPixels, count = min(blockPixels, pixels &- first)
                narrow.run(input: input, pixels: first..<(first &+ count), scratch: scratch, sums: sums)
                if cout == 1 {
                    stage.storeOneChannel(UnsafePointer(sums), count: count, to: output + first &* elementBytes)
                } else {
                    for i in 0..<count {
                        stage.store(UnsafePointer(sums + i &* cout), column: 0, count: cout, to: output + (first &+ i) &* cout &* elementBytes)
                    }
                }
            }
            return
        }
        if let dot = dotWeights {
            #if arch(x86_64) && SEGRUN_VNNI_ZMM
            if readsRowsInPlace {
                runImplicit(dot, input: input, output: output, items: items, scratch: scratch)
                return
            }
            #endif
            // Dot products: the receptive fields gathered as bytes (`x ^ activationFlip`), in quads.
            let stride = dot.depthQuads * 4, quads = dot.depthQuads
            let gather = { (first: Int, count: Int, rows: UnsafeMutablePointer<Int8>) in
                for r in 0..<count { self.gatherQuads(pixel: first &+ r, input: input, into: rows + r &* stride, stride: stride, segmentPad: 0) }
            }
            let setRows = { (rows: UnsafeMutablePointer<Int8>, t: Int, tileRows: Int, height: Int, aRows: UnsafeMutablePointer<UnsafePointer<Int8>>) in
                for r in 0..<height { aRows[r] = UnsafePointer(rows + (t &+ min(r, tileRows &- 1)) &* stride) }
            }
            #if arch(x86_64) && SEGRUN_VNNI_ZMM
            runTiles(Int8.self, rowStride: stride, output: output, items: items, scratch: scratch, gather: gather,
                     segments: 1, setRows: setRows, block: { dot.block($0) }, pairs: true, singleHeight: Q8DotMicrokernel.tallRows,
                     multiply: { a, b, tile in Q8DotMicrokernel.runTall(segments: 1, segmentQuads: quads, a: a, b: b, tile: tile) },
                     multiplyPair: { a, b0, b1, tile in Q8DotMicrokernel.runPair(depthQuads: quads, a: a, b0: b0, b1: b1, tile: tile) })
            #else
            runTiles(Int8.self, rowStride: stride, output: output, items: items, scratch: scratch, gather: gather,
                     segments: 1, setRows: setRows, block: { dot.block($0) }, pairs: false, singleHeight: Q8Microkernel.rows,
                     multiply: { a, b, tile in Q8DotMicrokernel.run(depthQuads: quads, a: a, b: b, tile: tile) },
                     multiplyPair: { _, _, _, _ in })
            #endif
        } else {
            let pairs = weights.depthPairs, stride = pairs &* 2
            runTiles(Int16.self, rowStride: stride, output: output, items: items, scratch: scratch,
                     gather: { first, count, rows in
                         for r in 0..<count { self.gather(pixel: first &+ r, input: input, into: rows + r &* stride) }
                     },
                     segments: 1,
                     setRows: { rows, t, tileRows, height, aRows in
                         for r in 0..<height { aRows[r] = UnsafePointer(rows + (t &+ min(r, tileRows &- 1)) &* stride) }
                     },
                     block: { self.weights.block($0) }, pairs: false, singleHeight: Q8Microkernel.rows,
                     multiply: { a, b, tile in Q8Microkernel.run(depthPairs: pairs, a: a, b: b, tile: tile) },
                     multiplyPair: { _, _, _, _ in })
        }
    }

    #if arch(x86_64) && SEGRUN_VNNI_ZMM
    /// The implicit GEMM of the VNNI path: no receptive field is copied for pixels whose window lies inside the
    /// image horizontally. Each of their kernel rows is `kw * cin` contiguous input bytes, read where it is (or a
    /// row of zero-point bytes above and below the image); only the pixels at the left and right borders are
    /// gathered. The tile multiplies `kh` segments of `kw * cin / 4` quads, each with its own row pointers.
    private func runImplicit(_ dot: Q8DotPackedWeights, input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer,
                             items: Range<Int>, scratch: UnsafeMutableRawPointer) {
        let g = geometry, cin = g.inChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let segment = segmentBytes, segmentQuads = segment / 4, stride = dot.depthQuads * 4
        // A row read in place ends `segment - kw * cin` bytes past its window: those must lie in the image row.
        let rowEnd = g.inWidth &* cin &- (segment &- kw &* cin)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: segment) { padding in
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: blockPixels &* kh) { table in
            padding.initialize(repeating: Int8(bitPattern: inputZeroPoint))
            let pad = UnsafePointer(padding.baseAddress!), pointers = table.baseAddress!
            let source = UnsafeRawPointer(input).assumingMemoryBound(to: Int8.self)
            // Per output row, whether every kernel row of its windows lies inside the image vertically: then a
            // window's kernel rows are a fixed step apart.
            let outWidth = self.outWidth, inWidth = g.inWidth, inHeight = g.inHeight
            let rowStep = g.dilationY &* inWidth &* cin, lastRow = (kh &- 1) &* g.dilationY
            let gather = { (first: Int, count: Int, rows: UnsafeMutablePointer<Int8>) in
                var oy = first / outWidth, ox = first &- oy &* outWidth
                var r = 0
                while r < count {
                    let iyTop = oy &* g.strideY &- g.padTop
                    let rowInside = iyTop >= 0 && iyTop &+ lastRow < inHeight
                    let end = r &+ min(count &- r, outWidth &- ox)
                    while r < end {
                        let ix0 = ox &* g.strideX &- g.padLeft, slots = pointers + r &* kh
                        if ix0 >= 0 && (ix0 &+ kw) &* cin <= rowEnd {
                            if rowInside {
                                let base = source + (iyTop &* inWidth &+ ix0) &* cin
                                for ky in 0..<kh { slots[ky] = base + ky &* rowStep }
                            } else {
                                for ky in 0..<kh {
                                    let iy = iyTop &+ ky &* g.dilationY
                                    slots[ky] = iy >= 0 && iy < inHeight ? source + (iy &* inWidth &+ ix0) &* cin : pad
                                }
                            }
                        } else {
                            let row = rows + r &* stride
                            self.gatherQuads(pixel: first &+ r, input: input, into: row, stride: stride, segmentPad: segment &- kw &* cin)
                            for ky in 0..<kh { slots[ky] = UnsafePointer(row + ky &* segment) }
                        }
                        ox &+= 1
                        r &+= 1
                    }
                    ox = 0
                    oy &+= 1
                }
            }
            let setRows = { (_: UnsafeMutablePointer<Int8>, t: Int, tileRows: Int, height: Int, aRows: UnsafeMutablePointer<UnsafePointer<Int8>>) in
                for r in 0..<height {
                    let slots = pointers + (t &+ min(r, tileRows &- 1)) &* kh
                    for ky in 0..<kh { aRows[ky &* height &+ r] = slots[ky] }
                }
            }
            if dot.columnBlocks == 1 || dot.depthQuads <= Q8Conv2dPlan.shortDepthQuads {
                runRows(dot, output: output, items: items, source: source, rowEnd: rowEnd, rowStep: rowStep,
                        scratch: scratch, gather: gather, setRows: setRows)
                return
            }
            // Pairs of column blocks on the 6 x 32 tile; a group's odd last block on the 12 x 16 one.
            runTiles(Int8.self, rowStride: stride, output: output, items: items, scratch: scratch, gather: gather,
                     segments: kh, setRows: setRows, block: { dot.block($0) }, pairs: true, singleHeight: Q8DotMicrokernel.tallRows,
                     multiply: { a, b, tile in
                         Q8DotMicrokernel.runTall(segments: kh, segmentQuads: segmentQuads, a: a, b: b, tile: tile)
                     },
                     multiplyPair: { a, b0, b1, tile in
                         Q8DotMicrokernel.runPair(segments: kh, segmentQuads: segmentQuads, a: a, b0: b0, b1: b1, tile: tile)
                     })
        }
        }
    }

    /// Receptive fields of at most this many quads (3x3 over 32 channels, 7x7 over one) are short enough that the
    /// GEMM's per-tile pointer tables and gathering cost more than the products: `runRows` serves them.
    static let shortDepthQuads = 72

    /// `runImplicit` run by run of pixels, for layers of at most 16 output channels (one column block, the 12 x 16
    /// tile) and for short receptive fields (pairs of column blocks on the 6 x 32 tile, a group's odd last block on
    /// the 12 x 16 one): runs of up to a tile's height of pixels of one output row whose windows lie inside the
    /// image read their kernel rows at fixed steps from one base pointer (no pointer table); the other pixels go
    /// through `gather` and `setRows` as in `runTiles`; each tile's sums are requantized together (`storeRows`).
    /// Same sums and output stage, so the same bits.
    private func runRows(_ dot: Q8DotPackedWeights, output: UnsafeMutableRawPointer, items: Range<Int>,
                         source: UnsafePointer<Int8>, rowEnd: Int, rowStep: Int, scratch: UnsafeMutableRawPointer,
                         gather: (_ first: Int, _ count: Int, _ rows: UnsafeMutablePointer<Int8>) -> Void,
                         setRows: (_ rows: UnsafeMutablePointer<Int8>, _ t: Int, _ tileRows: Int, _ height: Int,
                                   _ aRows: UnsafeMutablePointer<UnsafePointer<Int8>>) -> Void) {
        let g = geometry, cin = g.inChannels, kh = g.kernelHeight, kw = g.kernelWidth, cout = g.outChannels
        let segmentQuads = segmentBytes / 4
        let elementBytes = stage.elementBytes, rowBytes = cout &* elementBytes
        let lastRow = (kh &- 1) &* g.dilationY, pixelStep = g.strideX &* cin
        let rows = scratch.bindMemory(to: Int8.self, capacity: blockPixels &* dot.depthQuads &* 4)
        let maxHeight = Q8DotMicrokernel.tallRows
        /// Whether output pixel `(oy, ox)`'s window lies inside the image, each kernel row readable in place.
        @inline(__always) func inside(_ oy: Int, _ ox: Int) -> Bool {
            let iyTop = oy &* g.strideY &- g.padTop, ix0 = ox &* g.strideX &- g.padLeft
            return iyTop >= 0 && iyTop &+ lastRow < g.inHeight && ix0 >= 0 && (ix0 &+ kw) &* cin <= rowEnd
        }
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: kh &* maxHeight) { aRows in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxHeight &* Q8Microkernel.columns) { tile in
            for item in items {
                let pixelBlock = item / columnGroups, blocks = blockRange(item &- pixelBlock &* columnGroups)
                let first = pixelBlock &* blockPixels, end = min(first &+ blockPixels, pixels)
                var block = blocks.lowerBound
                while block < blocks.upperBound {
                    let span = block &+ 1 < blocks.upperBound ? 2 : 1
                    let height = span == 2 ? Q8Microkernel.rows : maxHeight, tileColumns = span &* Q8Microkernel.columns
                    let column = block &* Q8Microkernel.columns, width = min(tileColumns, cout &- column)
                    let b0 = dot.block(block), b1 = span == 2 ? dot.block(block &+ 1) : b0
                    var p = first
                    while p < end {
                        let oy = p / outWidth, ox = p &- oy &* outWidth
                        var n = 0
                        if inside(oy, ox) {
                            // Up to a tile's height of pixels of this row, all inside.
                            let limit = min(height, end &- p, outWidth &- ox)
                            n = 1
                            while n < limit && inside(oy, ox &+ n) { n &+= 1 }
                            let base = source + ((oy &* g.strideY &- g.padTop) &* g.inWidth &+ ox &* g.strideX &- g.padLeft) &* cin
                            if span == 2 {
                                Q8DotMicrokernel.runPair(segments: kh, segmentQuads: segmentQuads, base: base, rowStep: pixelStep,
                                                         segmentStep: rowStep, count: n, b0: b0, b1: b1, tile: tile.baseAddress!)
                            } else {
                                Q8DotMicrokernel.runTall(segments: kh, segmentQuads: segmentQuads, base: base, rowStep: pixelStep,
                                                         segmentStep: rowStep, count: n, b: b0, tile: tile.baseAddress!)
                            }
                        } else {
                            // Up to a tile's height of pixels, none inside: gathered.
                            let limit = min(height, end &- p)
                            n = 1
                            while n < limit {
                                let q = p &+ n, qy = q / outWidth
                                if inside(qy, q &- qy &* outWidth) { break }
                                n &+= 1
                            }
                            gather(p, n, rows)
                            setRows(rows, 0, n, height, aRows.baseAddress!)
                            let a = UnsafePointer(aRows.baseAddress!)
                            if span == 2 {
                                Q8DotMicrokernel.runPair(segments: kh, segmentQuads: segmentQuads, a: a, b0: b0, b1: b1, tile: tile.baseAddress!)
                            } else {
                                Q8DotMicrokernel.runTall(segments: kh, segmentQuads: segmentQuads, a: a, b: b0, tile: tile.baseAddress!)
                            }
                        }
                        stage.storeRows(tile.baseAddress!, rows: n, tileColumns: tileColumns, column: column, count: width,
                                        to: output + (p &* cout &+ column) &* elementBytes, rowBytes: rowBytes)
                        p &+= n
                    }
                    block &+= span
                }
            }
        }
        }
    }
    #endif

    /// The GEMM over one image's pixel blocks, for either microkernel: gather a block's rows once (`gather` writes
    /// `count` rows of `rowStride` from pixel `first` on), then every column block of its group over the block's
    /// tiles, and the output stage per row. A tile of `height` rows reads `segments` runs of depth per row, whose
    /// pointers `setRows` writes (`aRows[s * height + r]`). With `pairs`, two column blocks at a time go through
    /// `multiplyPair` (6 x 32), and a group's odd last block through `multiply` (`singleHeight` x 16).
    @inline(__always)
    private func runTiles<E>(_: E.Type, rowStride: Int, output: UnsafeMutableRawPointer, items: Range<Int>,
                             scratch: UnsafeMutableRawPointer,
                             gather: (_ first: Int, _ count: Int, _ rows: UnsafeMutablePointer<E>) -> Void,
                             segments: Int,
                             setRows: (_ rows: UnsafeMutablePointer<E>, _ t: Int, _ tileRows: Int, _ height: Int,
                                       _ aRows: UnsafeMutablePointer<UnsafePointer<E>>) -> Void,
                             block: (Int) -> UnsafePointer<E>, pairs: Bool, singleHeight: Int,
                             multiply: (UnsafePointer<UnsafePointer<E>>, UnsafePointer<E>, UnsafeMutablePointer<Int32>) -> Void,
                             multiplyPair: (UnsafePointer<UnsafePointer<E>>, UnsafePointer<E>, UnsafePointer<E>, UnsafeMutablePointer<Int32>) -> Void) {
        let rows = scratch.bindMemory(to: E.self, capacity: blockPixels * rowStride)
        let cout = geometry.outChannels, elementBytes = stage.elementBytes
        let blockColumns = Q8Microkernel.columns
        let maxHeight = max(singleHeight, Q8Microkernel.rows)
        withUnsafeTemporaryAllocation(of: UnsafePointer<E>.self, capacity: segments * maxHeight) { aRows in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(Q8Microkernel.rows * 2, maxHeight) * blockColumns) { tile in
                var lastGathered = -1
                for item in items {
                    let pixelBlock = item / columnGroups, group = item &- pixelBlock &* columnGroups
                    let first = pixelBlock &* blockPixels, count = min(blockPixels, pixels &- first)
                    if lastGathered != pixelBlock {
                        gather(first, count, rows)
                        lastGathered = pixelBlock
                    }
                    let range = blockRange(group)
                    var columnBlock = range.lowerBound
                    while columnBlock < range.upperBound {
                        let span = pairs && columnBlock &+ 1 < range.upperBound ? 2 : 1
                        let column = columnBlock &* blockColumns, tileColumns = span &* blockColumns
                        let width = min(tileColumns, cout &- column)
                        let b = block(columnBlock), b1 = span == 2 ? block(columnBlock &+ 1) : b
                        let height = span == 2 ? Q8Microkernel.rows : singleHeight
                        var t = 0
                        while t < count {
                            let tileRows = min(height, count &- t)
                            setRows(rows, t, tileRows, height, aRows.baseAddress!)
                            if span == 2 {
                                multiplyPair(UnsafePointer(aRows.baseAddress!), b, b1, tile.baseAddress!)
                            } else {
                                multiply(UnsafePointer(aRows.baseAddress!), b, tile.baseAddress!)
                            }
                            stage.storeRows(tile.baseAddress!, rows: tileRows, tileColumns: tileColumns, column: column, count: width,
                                            to: output + ((first &+ t) &* cout &+ column) &* elementBytes, rowBytes: cout &* elementBytes)
                            t &+= height
                        }
                        columnBlock &+= span
                    }
                }
            }
        }
    }

    /// Writes the receptive field of output pixel `p` as bytes `x ^ Q8DotMicrokernel.activationFlip`, taps outer
    /// and channels inner, each kernel row followed by `segmentPad` zero bytes, zero-padded to `stride` (a multiple of 4).
    @inline(__always)
    private func gatherQuads(pixel p: Int, input: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Int8>, stride: Int,
                             segmentPad: Int) {
        let g = geometry, cin = g.inChannels
        let oy = p / outWidth, ox = p &- oy &* outWidth
        let flip = Q8DotMicrokernel.activationFlip
        let zero = Int8(bitPattern: inputZeroPoint ^ flip)
        let ix0 = ox &* g.strideX &- g.padLeft
        let end = input + g.inHeight &* g.inWidth &* cin
        var dst = row
        if g.dilationX == 1 && ix0 >= 0 && ix0 &+ g.kernelWidth <= g.inWidth {
            // The window's columns are inside the image: each kernel row is one contiguous run of kw * cin bytes.
            let run = g.kernelWidth &* cin
            for ky in 0..<g.kernelHeight {
                let iy = oy &* g.strideY &- g.padTop &+ ky &* g.dilationY
                if iy >= 0 && iy < g.inHeight {
                    Q8Conv2dPlan.copyFlipped(input + (iy &* g.inWidth &+ ix0) &* cin, count: run, end: end, flip: flip, to: dst)
                } else {
                    dst.update(repeating: zero, count: run)
                }
                dst += run
                for k in 0..<segmentPad { dst[k] = 0 }
                dst += segmentPad
            }
        } else {
            for ky in 0..<g.kernelHeight {
                let iy = oy &* g.strideY &- g.padTop &+ ky &* g.dilationY
                for kx in 0..<g.kernelWidth {
                    let ix = ix0 &+ kx &* g.dilationX
                    if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                        Q8Conv2dPlan.copyFlipped(input + (iy &* g.inWidth &+ ix) &* cin, count: cin, end: end, flip: flip, to: dst)
                    } else {
                        dst.update(repeating: zero, count: cin)
                    }
                    dst += cin
                }
                for k in 0..<segmentPad { dst[k] = 0 }
                dst += segmentPad
            }
        }
        let used = g.kernelHeight &* (g.kernelWidth &* cin &+ segmentPad)
        for k in used..<stride { row[k] = 0 }
    }

    /// `count` bytes from `src` XORed with `flip` at `dst`, 32 at a time. The last partial group is one whole
    /// 32-byte load when it stays before `end`: its extra bytes land past `dst + count`, where the caller writes
    /// next (the following tap, kernel row, the row's zero tail or the next row, or the scratch's slack).
    @inline(__always)
    static func copyFlipped(_ src: UnsafePointer<UInt8>, count: Int, end: UnsafePointer<UInt8>, flip: UInt8,
                            to dst: UnsafeMutablePointer<Int8>) {
        var c = 0
        // XOR on 64-bit lanes: on SIMD32<UInt8>, `^` came out as a byte-by-byte insert loop.
        let mask = SIMD4<UInt64>(repeating: UInt64(flip) &* 0x0101_0101_0101_0101)
        while c &+ 32 <= count || (c < count && src + (c &+ 32) <= end) {
            let v = UnsafeRawPointer(src + c).loadUnaligned(as: SIMD4<UInt64>.self) ^ mask
            UnsafeMutableRawPointer(dst + c).storeBytes(of: v, as: SIMD4<UInt64>.self)
            c &+= 32
        }
        while c < count {
            dst[c] = Int8(bitPattern: src[c] ^ flip)
            c &+= 1
        }
    }

    /// Writes the receptive field of output pixel `p` as Int16, taps outer and channels inner.
    @inline(__always)
    private func gather(pixel p: Int, input: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Int16>) {
        let g = geometry, cin = g.inChannels
        let oy = p / outWidth, ox = p &- oy &* outWidth
        let zero = Int16(inputZeroPoint)
        let ix0 = ox &* g.strideX &- g.padLeft
        var dst = row
        if g.dilationX == 1 && ix0 >= 0 && ix0 &+ g.kernelWidth <= g.inWidth {
            // The window's columns are inside the image: each kernel row is one contiguous run of kw * cin bytes.
            let run = g.kernelWidth &* cin
            let end = input + g.inHeight &* g.inWidth &* cin
            for ky in 0..<g.kernelHeight {
                let iy = oy &* g.strideY &- g.padTop &+ ky &* g.dilationY
                if iy >= 0 && iy < g.inHeight {
                    Q8Conv2dPlan.widen(input + (iy &* g.inWidth &+ ix0) &* cin, count: run, end: end, to: dst)
                } else {
                    dst.update(repeating: zero, count: run)
                }
                dst += run
            }
        } else {
            for ky in 0..<g.kernelHeight {
                let iy = oy &* g.strideY &- g.padTop &+ ky &* g.dilationY
                for kx in 0..<g.kernelWidth {
                    let ix = ix0 &+ kx &* g.dilationX
                    if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                        let src = input + (iy &* g.inWidth &+ ix) &* cin
                        for c in 0..<cin { dst[c] = Int16(src[c]) }
                    } else {
                        dst.update(repeating: zero, count: cin)
                    }
                    dst += cin
                }
            }
        }
        if (g.kernelHeight * g.kernelWidth * cin) & 1 == 1 { dst[0] = 0 }
    }

    /// `count` bytes from `src` widened to Int16 at `dst`, 16 at a time. The last partial group is one whole
    /// 16-byte load when it stays before `end`: its extra values land past `dst + count`, where the caller
    /// writes next (the following kernel row or A row, or the scratch's slack after the last row).
    @inline(__always)
    static func widen(_ src: UnsafePointer<UInt8>, count: Int, end: UnsafePointer<UInt8>, to dst: UnsafeMutablePointer<Int16>) {
        var c = 0
        while c &+ 16 <= count || (c < count && src + (c &+ 16) <= end) {
            let v = UnsafeRawPointer(src + c).loadUnaligned(as: SIMD16<UInt8>.self)
            UnsafeMutableRawPointer(dst + c).storeBytes(of: Q8Lanes.widen(v), as: SIMD16<Int16>.self)
            c &+= 16
        }
        while c < count {
            dst[c] = Int16(src[c])
            c &+= 1
        }
    }
}
