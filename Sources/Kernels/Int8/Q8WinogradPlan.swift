/// Exact int8 Winograd for 3x3 stride-1 convolutions (groups 1, any padding): F(2x2, 3x3) or F(4x4, 3x3).
///
/// **F(2x2, 3x3).** Winograd's weight transform `G g G^T` has halves; with `G' = 2G` every transform is an
/// integer matrix, `U' = G' g G'^T = 4U` fits Int16 (|U'| <= 9 * 127), the input transform `V = B^T d B` of
/// UInt8 patches fits Int16 (|V| <= 4 * 255), and the output transform gives `A^T (U' . V) A = 4y`,
/// four times the direct convolution's integer sum. Dividing by 4 is exact, so the result equals
/// `Q8Conv2dPlan`'s (and the reference's) bit for bit, with 16 multiplies per 2x2 outputs instead of 36.
/// Sums wrap in Int32 (`&+`); the final `4y` fits Int32 for up to `maxInChannels` inputs, so wrapping
/// in intermediate values cannot change it.
///
/// **F(4x4, 3x3)** (36 multiplies per 4x4 outputs instead of 144; `Q8WinogradPlan+F4.swift`): inputs enter as
/// `x - 128` so `|V| <= 100 * 128` fits Int16; `G`'s row factors `(1/4, -1/6, -1/6, 1/24, 1/24, 1)` are taken out
/// of the weight transform (`G'` rows (1,0,0) (1,1,1) (1,-1,1) (1,2,4) (1,-2,4) (0,0,1), |U'| <= 7 * 7 * 127) and put
/// back, times 24, in the output transform, which then gives `576 y` modulo 2^32. `576 = 64 * 9`: a multiply by 9's
/// inverse modulo 2^32 gives `64 y` modulo 2^32, and an arithmetic shift by 6 gives `y` wherever |y| < 2^25. That
/// holds for every input when `128 * sum|w|` of each output channel is below 2^25, checked from the weights at load.
/// Where it fails, the depth is cut into groups within which it holds (`f4DepthGroups`), each group's products
/// are output-transformed and divided on their own and the `y_g` summed; beyond `maxF4DepthGroups` groups the init
/// refuses the layer, which keeps F(2x2, 3x3) or the GEMM.
///
/// Per block of tiles: the input transform writes one Int16 matrix (tiles x channels) per Winograd point; then for
/// each column block and group of 6 tiles the microkernel runs the products of every point, and the output
/// transform, the exact division and the requantization store the outputs of each tile.
///
/// With `weightsPerRun` (F(4x4, 3x3) on layers with few tiles, `Q8WinogradPlan+WeightsPerRun.swift`) the plan keeps
/// the int8 kernels instead of the 8x larger transformed ones, takes every tile in one block, and transforms each
/// pair of column blocks' weights, a row of 6 points at a time, into scratch just before their products.
public final class Q8WinogradPlan: Q8LayerPlan {
    public static let maxInChannels = 1024
    public let geometry: Conv2dGeometry
    public let tile: Q8WinogradTile
    /// `U'` as packed matrices (depth = input channels, columns = output channels), one per Winograd point;
    /// empty when the weights are transformed per run from `kernels`.
    let transformed: [Q8PackedWeights]
    /// The int8 kernels, for plans that transform their weights per run. segrun-edge leaves this path out (its
    /// kernels are compiled once per instruction set, and it must stay small): there it is always nil.
    let perRunKernels: Q8WinogradKernels?
    var kernels: Q8WinogradKernels? {
        #if SEGRUN_EDGE
        return nil
        #else
        return perRunKernels
        #endif
    }
    let depthPairs: Int
    public let columnBlocks: Int
    /// Depth pairs summed separately (F(4x4, 3x3) layers whose weights exceed its exactness bound; `f4DepthGroups`).
    public let depthGroups: [Range<Int>]
    public let stage: Q8OutputStage
    public let inputZeroPoint: UInt8
    public let blockTiles: Int
    /// Whether the products run on `Q8Microkernel.runPair`'s 512-bit tile (AVX512-VNNI builds, unless `SEGRUN_VNNI=0`).
    let wideTile: Bool

    public static func supports(_ g: Conv2dGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1 && g.dilationY == 1 && g.dilationX == 1
            && g.groups == 1 && g.inChannels <= maxInChannels && g.validate() == nil
    }

    /// Whether `weightsPerRun` serves this layer: few enough tiles that all of them are one pixel block (their
    /// transformed inputs at most `maxPerRunInputBytes`, their product tiles for one pair of column blocks at most
    /// 64 tiles' worth), so each weight is transformed once per run.
    public static func supportsWeightsPerRun(_ g: Conv2dGeometry) -> Bool {
        #if SEGRUN_EDGE
        return false
        #else
        let tiles = ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
        return supports(g) && tiles <= 64 && tiles * 36 * ((g.inChannels + 1) / 2) * 4 <= maxPerRunInputBytes
        #endif
    }

    /// Transformed input of a `weightsPerRun` plan's tiles (each row of 6 points, a sixth of it, is read per pair of
    /// column blocks; the rest may wait in L3).
    static let maxPerRunInputBytes = 2560 * 1024

    /// Same arguments as `Q8Conv2dPlan`, and the tile. F(4x4, 3x3) throws where its weights need more than
    /// `maxF4DepthGroups` depth groups (`depthGroups`, from `f4DepthGroups`), or more than one when none are given.
    /// `weightsPerRun` (F(4x4, 3x3) only, where `supportsWeightsPerRun`) keeps the int8 kernels and transforms
    /// them per run; the outputs are the same bits.
    @export(interface)
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget,
                tile: Q8WinogradTile = .f2, weightsPerRun: Bool = false, depthGroups groups: [Range<Int>]? = nil) throws(ShapeError) {
        if let error = g.validate() { throw error }
        guard Q8WinogradPlan.supports(g) else { throw .mismatch("int8 Winograd needs a 3x3 stride-1 convolution with at most \(Q8WinogradPlan.maxInChannels) inputs, got \(g)") }
        if multipliers.count != g.outChannels { throw .mismatch("\(multipliers.count) multipliers for \(g.outChannels) channels") }
        let cin = g.inChannels, cout = g.outChannels
        // F(4x4, 3x3)'s depth groups: the caller's (`f4DepthGroups` of these weights; worked out by the caller, so the
        // per-instruction-set copies of segrun-edge's kernels do not carry it), or one where the weights allow it.
        let all = [0..<((cin + 1) / 2)]
        if tile == .f4 && groups == nil && !Q8WinogradPlan.isExactF4(weights: weights, inChannels: cin, outChannels: cout) {
            throw .mismatch("int8 Winograd F(4x4,3x3) is not exact for these weights in one depth group (pass `f4DepthGroups`)")
        }
        depthGroups = tile == .f4 ? groups ?? all : all
        if depthGroups.count > Q8WinogradPlan.maxF4DepthGroups {
            throw .mismatch("int8 Winograd F(4x4,3x3) would need \(depthGroups.count) depth groups to be exact for these weights (at most \(Q8WinogradPlan.maxF4DepthGroups))")
        }
        if weightsPerRun && (tile != .f4 || !Q8WinogradPlan.supportsWeightsPerRun(g)) {
            throw .mismatch("int8 Winograd weights are transformed per run only for F(4x4,3x3) layers of few tiles, got \(g)")
        }
        geometry = g
        self.tile = tile
        outHeight = g.outHeight
        outWidth = g.outWidth
        tilesHigh = (outHeight + tile.outputSize - 1) / tile.outputSize
        tilesWide = (outWidth + tile.outputSize - 1) / tile.outputSize
        let points = tile.points
        depthPairs = (cin + 1) / 2
        columnBlocks = (cout + Q8Microkernel.columns - 1) / Q8Microkernel.columns
        var sums = [Int32](repeating: 0, count: cout)
        for o in 0..<cout {
            for i in 0..<(cin * 9) { sums[o] += Int32(weights[o * cin * 9 + i]) }
        }
        if weightsPerRun {
            #if SEGRUN_EDGE
            perRunKernels = nil
            #else
            perRunKernels = Q8WinogradKernels(weights: weights, inChannels: cin, outChannels: cout)
            #endif
            transformed = []
        } else {
            // U' = G' g G'^T for every (out, in) pair, as `points` Int16 values.
            var u = [Int16](repeating: 0, count: cout * cin * points)
            var k = [Int32](repeating: 0, count: 9)
            for o in 0..<cout {
                for c in 0..<cin {
                    for i in 0..<9 { k[i] = Int32(weights[(o * cin + c) * 9 + i]) }
                    let base = (o * cin + c) * points
                    switch tile {
                    case .f2: Q8WinogradPlan.transformWeightsF2(k) { u[base + $0] = $1 }
                    case .f4: Q8WinogradPlan.transformWeightsF4(k) { u[base + $0] = $1 }
                    }
                }
            }
            var matrices: [Q8PackedWeights] = []
            for position in 0..<points {
                matrices.append(Q8PackedWeights(depth: cin, columns: cout, wide: { o, c in u[(o * cin + c) * points + position] }))
            }
            transformed = matrices
            perRunKernels = nil
        }
        // The kernels sum (x - shift) * w; the reference sums (x - zx) * w: the difference is (shift - zx) * sum(w).
        let shift = Int32(tile.inputShift)
        var offsets = [Int32](repeating: 0, count: cout)
        for o in 0..<cout { offsets[o] = (bias?[o] ?? 0) &+ (shift &- Int32(inputZeroPoint)) &* sums[o] }
        stage = Q8OutputStage(multipliers: multipliers, offsets: offsets, activation: activation, target: output)
        self.inputZeroPoint = inputZeroPoint
        let rowBytes = depthPairs * 4
        let tiles = tilesHigh * tilesWide
        blockTiles = weightsPerRun ? (tiles + Q8Microkernel.rows - 1) / Q8Microkernel.rows * Q8Microkernel.rows
            : max(1, min(16, (48 * 1024) / (points * rowBytes * Q8Microkernel.rows))) * Q8Microkernel.rows
        wideTile = Q8Microkernel.hasPairTile && Q8DotMicrokernel.isAvailable
    }

    /// `G' k G'^T` of F(2x2, 3x3), G' rows (2,0,0) (1,1,1) (1,-1,1) (0,0,2), as 16 values (row-major 4x4).
    static func transformWeightsF2(_ k: [Int32], _ store: (Int, Int16) -> Void) {
        @inline(__always) func g(_ a: Int32, _ b: Int32, _ c: Int32) -> (Int32, Int32, Int32, Int32) {
            (2 &* a, a &+ b &+ c, a &- b &+ c, 2 &* c)
        }
        let c0 = g(k[0], k[3], k[6]), c1 = g(k[1], k[4], k[7]), c2 = g(k[2], k[5], k[8])
        for i in 0..<4 {
            let (a, b, c) = i == 0 ? (c0.0, c1.0, c2.0) : i == 1 ? (c0.1, c1.1, c2.1) : i == 2 ? (c0.2, c1.2, c2.2) : (c0.3, c1.3, c2.3)
            let r = g(a, b, c)
            store(i &* 4, Int16(r.0)); store(i &* 4 &+ 1, Int16(r.1)); store(i &* 4 &+ 2, Int16(r.2)); store(i &* 4 &+ 3, Int16(r.3))
        }
    }

    /// The geometry's output size and tile counts, kept (the geometry derives them by dividing).
    let outHeight: Int
    let outWidth: Int
    public let tilesHigh: Int
    public let tilesWide: Int
    public var tiles: Int { tilesHigh * tilesWide }
    public var columnGroups = 1
    public var pixelBlocks: Int { (tiles + blockTiles - 1) / blockTiles }
    var rowStride: Int { depthPairs * 2 }
    /// Per-thread scratch: one transformed-input matrix of the block and one product tile (up to 32 columns) per
    /// point and depth group, one tile's temporaries (`tileScratchBytes`), and for plans that transform their weights
    /// per run a product tile per group of 6 tiles and one point row of two transformed column blocks.
    public var scratchBytes: Int {
        let points = tile.points, perRun = kernels
        let productTiles = perRun == nil ? 1 : blockTiles / Q8Microkernel.rows
        return points * blockTiles * rowStride * 2
            + productTiles * depthGroups.count * points * Q8Microkernel.rows * 2 * Q8Microkernel.columns * 4
            + Q8WinogradPlan.tileScratchBytes + 2 * (perRun?.transformedRowCount ?? 0) * 2 + 128
    }

    /// Bytes of one tile's output sums (up to 16 pixels x 16 columns of Int32).
    static let sumsBytes = 1024
    /// Bytes of one tile's temporaries: its sums, then F(4x4, 3x3)'s transform rows (24 Int32 vectors of the output
    /// transform, or 36 Int16 ones of the input transform, which never overlaps it in time).
    static let tileScratchBytes = sumsBytes + 24 * 64
    /// Bytes of weights one image reads: the transformed matrices, or the int8 kernels of a per-run plan.
    public var packedBytes: Int { kernels?.bytes ?? transformed.reduce(0) { $0 + $1.packedBytes } }

    @export(interface)
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>,
                    scratch: UnsafeMutableRawPointer) {
        #if !SEGRUN_EDGE
        if let kernels {
            runWeightsPerRun(kernels, input: input, output: output, items: items, scratch: scratch)
            return
        }
        #endif
        let g = geometry, cout = g.outChannels, stride = rowStride
        let planeStride = blockTiles * stride, points = tile.points
        let v = scratch.bindMemory(to: Int16.self, capacity: points * planeStride)
        let productsRaw = scratch + points * planeStride * 2
        let groupStride = points &* Q8Microkernel.rows &* 2 &* Q8Microkernel.columns, groups = depthGroups
        let products = productsRaw.bindMemory(to: Int32.self, capacity: groups.count * groupStride)
        let sumsRaw = productsRaw + groups.count * groupStride * 4
        let sums = sumsRaw.bindMemory(to: Int32.self, capacity: tile.outputSize * tile.outputSize * 16)
        let transformTemporary = sumsRaw + Q8WinogradPlan.sumsBytes
        let elementBytes = stage.elementBytes
        var lastTransformed = -1
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: Q8Microkernel.rows) { aRows in
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: Q8Microkernel.rows) { groupRows in
            for item in items {
                let pixelBlock = item / columnGroups, group = item &- pixelBlock &* columnGroups
                let first = pixelBlock &* blockTiles, count = min(blockTiles, tiles &- first)
                if lastTransformed != pixelBlock {
                    switch tile {
                    case .f2: for t in 0..<count { transformInput(tile: first &+ t, input: input, into: v + t &* stride, planeStride: planeStride) }
                    case .f4: for t in 0..<count { transformInputF4(tile: first &+ t, input: input, into: v + t &* stride, planeStride: planeStride,
                                                                       temporary: transformTemporary) }
                    }
                    lastTransformed = pixelBlock
                }
                let blocks = blockRange(group)
                var block = blocks.lowerBound
                while block < blocks.upperBound {
                    // Two column blocks at once on the 512-bit tile where this build and CPU have it.
                    let span = wideTile && block &+ 1 < blocks.upperBound ? 2 : 1
                    let tileColumns = span &* Q8Microkernel.columns, tileSize = Q8Microkernel.rows &* tileColumns
                    var t = 0
                    while t < count {
                        let rows = min(Q8Microkernel.rows, count &- t)
                        for position in 0..<points {
                            let plane = v + position &* planeStride
                            for r in 0..<Q8Microkernel.rows { aRows[r] = UnsafePointer(plane + (t &+ min(r, rows &- 1)) &* stride) }
                            let b0 = transformed[position].block(block)
                            multiplyPoint(groups: groups, aRows: aRows.baseAddress!, groupRows: groupRows.baseAddress!, b0: b0,
                                          b1: span == 2 ? transformed[position].block(block &+ 1) : b0, span: span,
                                          tile: products + position &* tileSize, groupStride: groupStride)
                        }
                        for r in 0..<rows {
                            for part in 0..<span {
                                let column = (block &+ part) &* Q8Microkernel.columns
                                let width = min(Q8Microkernel.columns, cout &- column)
                                let m = UnsafePointer(products + (r &* tileColumns &+ part &* Q8Microkernel.columns))
                                switch tile {
                                case .f2: storeTile(first &+ t &+ r, products: m, tileSize: tileSize, sums: sums, column: column, width: width,
                                                    output: output, elementBytes: elementBytes)
                                case .f4: storeTileF4(first &+ t &+ r, products: m, tileSize: tileSize, groupStride: groupStride, sums: sums,
                                                      column: column, width: width, output: output, elementBytes: elementBytes)
                                }
                            }
                        }
                        t &+= Q8Microkernel.rows
                    }
                    block &+= span
                }
            }
        }
        }
    }

    /// One Winograd point's products for a group of 6 tiles (`aRows`: their transformed-input rows at that point)
    /// and one column block `b0`, or two (`b0`, `b1`) on the 512-bit pair tile when `span` is 2. Each depth group's
    /// products on their own, into `tile + k * groupStride` (one group unless the layer exceeds F(4x4, 3x3)'s exactness
    /// bound); `groupRows` is scratch for the rows offset to a later group's first depth pair. (Not inlined: one copy
    /// of the microkernel serves both loops; a call per point costs nothing against its products.)
    @inline(never)
    func multiplyPoint(groups: [Range<Int>], aRows: UnsafeMutablePointer<UnsafePointer<Int16>>,
                       groupRows: UnsafeMutablePointer<UnsafePointer<Int16>>, b0: UnsafePointer<Int16>, b1: UnsafePointer<Int16>,
                       span: Int, tile: UnsafeMutablePointer<Int32>, groupStride: Int) {
        for k in 0..<groups.count {
            let first = groups[k].lowerBound
            let rows: UnsafePointer<UnsafePointer<Int16>>
            if first == 0 { rows = UnsafePointer(aRows) } else {
                for r in 0..<Q8Microkernel.rows { groupRows[r] = aRows[r] + 2 &* first }
                rows = UnsafePointer(groupRows)
            }
            let out = tile + k &* groupStride
            #if arch(x86_64) && SEGRUN_VNNI_ZMM
            if span == 2 {
                Q8Microkernel.runPair(depthPairs: groups[k].count, a: rows, b0: b0 + 32 &* first, b1: b1 + 32 &* first, tile: out)
                continue
            }
            #endif
            Q8Microkernel.run(depthPairs: groups[k].count, a: rows, b: b0 + 32 &* first, tile: out)
        }
    }

    /// `V = B^T d B` of tile `tile`'s 4x4 input patch, channel by channel, into the 16 planes.
    @inline(__always)
    private func transformInput(tile: Int, input: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Int16>, planeStride: Int) {
        let g = geometry, cin = g.inChannels
        let ty = tile / tilesWide, tx = tile &- ty &* tilesWide
        let y0 = 2 &* ty &- g.padTop, x0 = 2 &* tx &- g.padLeft
        withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: 16) { patch in
            for i in 0..<4 {
                for j in 0..<4 {
                    let y = y0 &+ i, x = x0 &+ j
                    patch[i &* 4 &+ j] = (y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth) ? input + (y &* g.inWidth &+ x) &* cin : nil
                }
            }
            var c = 0
            let zero = SIMD16<Int16>(repeating: Int16(inputZeroPoint))
            while c &+ 16 <= cin {
                @inline(__always) func d(_ k: Int) -> SIMD16<Int16> {
                    guard let p = patch[k] else { return zero }
                    return Q8Lanes.widen(UnsafeRawPointer(p + c).loadUnaligned(as: SIMD16<UInt8>.self))
                }
                Q8WinogradPlan.transform(d, store: { k, value in
                    UnsafeMutableRawPointer(row + (k &* planeStride &+ c)).storeBytes(of: value, as: SIMD16<Int16>.self)
                })
                c &+= 16
            }
            while c < cin {
                @inline(__always) func d(_ k: Int) -> SIMD16<Int16> {
                    SIMD16<Int16>(repeating: patch[k].map { Int16($0[c]) } ?? Int16(inputZeroPoint))
                }
                Q8WinogradPlan.transform(d, store: { k, value in row[k &* planeStride &+ c] = value[0] })
                c &+= 1
            }
            if cin & 1 == 1 { for k in 0..<16 { row[k &* planeStride &+ cin] = 0 } }
        }
    }

    /// B^T d B with B^T rows (1,0,-1,0) (0,1,1,0) (0,-1,1,0) (0,1,0,-1), for 16 channels at once.
    @inline(__always)
    static func transform(_ d: (Int) -> SIMD16<Int16>, store: (Int, SIMD16<Int16>) -> Void) {
        // Rows first: column j of B^T d, kept as four registers per output row.
        @inline(__always) func column(_ j: Int) -> (SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>) {
            let d0 = d(j), d1 = d(4 &+ j), d2 = d(8 &+ j), d3 = d(12 &+ j)
            return (d0 &- d2, d1 &+ d2, d2 &- d1, d1 &- d3)
        }
        let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
        @inline(__always) func finish(_ i: Int, _ a: SIMD16<Int16>, _ b: SIMD16<Int16>, _ c: SIMD16<Int16>, _ e: SIMD16<Int16>) {
            store(i &* 4, a &- c); store(i &* 4 &+ 1, b &+ c); store(i &* 4 &+ 2, c &- b); store(i &* 4 &+ 3, b &- e)
        }
        finish(0, c0.0, c1.0, c2.0, c3.0)
        finish(1, c0.1, c1.1, c2.1, c3.1)
        finish(2, c0.2, c1.2, c2.2, c3.2)
        finish(3, c0.3, c1.3, c2.3, c3.3)
    }

    /// `A^T M A / 4` for one tile and 16 columns, then the output stage for each of its up to 4 pixels.
    @inline(__always)
    private func storeTile(_ tile: Int, products m: UnsafePointer<Int32>, tileSize: Int, sums: UnsafeMutablePointer<Int32>,
                           column: Int, width: Int, output: UnsafeMutableRawPointer, elementBytes: Int) {
        let g = geometry
        for half in 0..<2 {
            @inline(__always) func at(_ k: Int) -> SIMD8<Int32> {
                UnsafeRawPointer(m + (k &* tileSize &+ half &* 8)).loadUnaligned(as: SIMD8<Int32>.self)
            }
            // A^T rows: (1,1,1,0) (0,1,-1,-1); first over the patch rows, then over its columns.
            @inline(__always) func rows(_ j: Int) -> (SIMD8<Int32>, SIMD8<Int32>) {
                let a = at(j), b = at(4 &+ j), c = at(8 &+ j), e = at(12 &+ j)
                return (a &+ b &+ c, b &- c &- e)
            }
            let q0 = rows(0), q1 = rows(1), q2 = rows(2), q3 = rows(3)
            let y00 = (q0.0 &+ q1.0 &+ q2.0) &>> 2, y01 = (q1.0 &- q2.0 &- q3.0) &>> 2
            let y10 = (q0.1 &+ q1.1 &+ q2.1) &>> 2, y11 = (q1.1 &- q2.1 &- q3.1) &>> 2
            let s = UnsafeMutableRawPointer(sums)
            s.storeBytes(of: y00, toByteOffset: half &* 32, as: SIMD8<Int32>.self)
            s.storeBytes(of: y01, toByteOffset: 64 &+ half &* 32, as: SIMD8<Int32>.self)
            s.storeBytes(of: y10, toByteOffset: 128 &+ half &* 32, as: SIMD8<Int32>.self)
            s.storeBytes(of: y11, toByteOffset: 192 &+ half &* 32, as: SIMD8<Int32>.self)
        }
        let ty = tile / tilesWide, tx = tile &- ty &* tilesWide
        for i in 0..<2 {
            let oy = 2 &* ty &+ i
            if oy >= outHeight { break }
            for j in 0..<2 {
                let ox = 2 &* tx &+ j
                if ox >= outWidth { break }
                let p = oy &* outWidth &+ ox
                stage.store(UnsafePointer(sums + (i &* 2 &+ j) &* 16), column: column, count: width,
                            to: output + (p &* g.outChannels &+ column) &* elementBytes)
            }
        }
    }
}
