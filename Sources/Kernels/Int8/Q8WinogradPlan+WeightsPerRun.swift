/// F(4x4, 3x3) with its weights transformed at run time (`Q8WinogradPlan`'s `weightsPerRun`).
///
/// F(4x4, 3x3)'s transformed weights are 36 Int16 values per 3x3 kernel, 8x the int8 kernel's bytes: 4.7 MB for a
/// 256->256 layer. Inside a model every layer's weights come from memory, and on a layer with few tiles (16x16
/// pixels are 16 tiles) streaming them costs about as much as the products (0.46 ms alone, 0.79 ms in a ResNet-34
/// U-Net, Zen 4). This plan keeps the int8 kernels (laid out so the transform writes whole packed rows). It transforms
/// the input of every tile once, then per pair of column blocks and per row of 6 Winograd points transforms those
/// points' weights into per-thread scratch (a 512->512 layer's are 197 KB, where a whole column block's were 1.2 MB)
/// and runs their products for every tile; the output transform follows the sixth row. The layer reads its int8
/// weights once and the transformed ones stay in L2. The transform is the same integer arithmetic as
/// `transformWeightsF4`, so the bits equal the plan with stored weights.
final class Q8WinogradKernels {
    let depthPairs: Int
    let columnBlocks: Int
    /// `[columnBlock][depthPair][9 taps][16 columns][2 depth values]`, zero where depth or columns are padding.
    let storage: UnsafeMutablePointer<Int8>

    /// Bytes per column block and depth pair: 9 taps of one packed row (16 columns x 2 depth values).
    static let pairBytes = 9 * 32

    init(weights: UnsafePointer<Int8>, inChannels cin: Int, outChannels cout: Int) {
        depthPairs = (cin + 1) / 2
        columnBlocks = (cout + Q8Microkernel.columns - 1) / Q8Microkernel.columns
        let count = columnBlocks * depthPairs * Q8WinogradKernels.pairBytes
        storage = UnsafeMutablePointer<Int8>.allocate(capacity: count)
        storage.initialize(repeating: 0, count: count)
        for o in 0..<cout {
            let block = o / Q8Microkernel.columns, lane = o % Q8Microkernel.columns
            for c in 0..<cin {
                let base = (block * depthPairs + c / 2) * Q8WinogradKernels.pairBytes + lane * 2 + (c & 1)
                for tap in 0..<9 { storage[base + tap * 32] = weights[(o * cin + c) * 9 + tap] }
            }
        }
    }

    deinit { storage.deallocate() }

    var bytes: Int { columnBlocks * depthPairs * Q8WinogradKernels.pairBytes }

    /// Int16 values between the transformed matrices of two points: `depthPairs` rows of 32 values and one row
    /// more, so the 36 rows one depth pair writes do not all fall in the same L1 set (a 4 KiB multiple apart,
    /// they did, and the transform ran 10x slower).
    var pointStride: Int { depthPairs * 32 + 32 }

    /// Int16 values of one point row (6 points) of a transformed column block: 6 packed matrices.
    var transformedRowCount: Int { 6 * pointStride }

    /// `G' k G'^T` of column block `block` at the 6 points of row `pointRow` (points `6 * pointRow ..< 6 * pointRow + 6`),
    /// written as the `Q8PackedWeights` blocks the microkernel reads (point `6 * pointRow + j` at `into + j * pointStride`).
    @inline(__always)
    func transform(block: Int, pointRow: Int, into out: UnsafeMutablePointer<Int16>) {
        let pointBytes = pointStride &* 2
        var pair = 0
        while pair < depthPairs {
            let source = UnsafeRawPointer(storage + (block &* depthPairs &+ pair) &* Q8WinogradKernels.pairBytes)
            for half in 0..<2 {
                @inline(__always) func k(_ tap: Int) -> SIMD16<Int16> {
                    Q8Lanes.widen(source.loadUnaligned(fromByteOffset: tap &* 32 &+ half &* 16, as: SIMD16<Int8>.self))
                }
                // Row `pointRow` of G' k (one value per kernel column), then that row through G''s rows.
                let a = Q8WinogradKernels.rowOfG(pointRow, k(0), k(3), k(6))
                let b = Q8WinogradKernels.rowOfG(pointRow, k(1), k(4), k(7))
                let c = Q8WinogradKernels.rowOfG(pointRow, k(2), k(5), k(8))
                let r = Q8WinogradKernels.rowsOfG(a, b, c)
                var p = UnsafeMutableRawPointer(out + (pair &* 32 &+ half &* 16))
                p.storeBytes(of: r.0, as: SIMD16<Int16>.self); p += pointBytes
                p.storeBytes(of: r.1, as: SIMD16<Int16>.self); p += pointBytes
                p.storeBytes(of: r.2, as: SIMD16<Int16>.self); p += pointBytes
                p.storeBytes(of: r.3, as: SIMD16<Int16>.self); p += pointBytes
                p.storeBytes(of: r.4, as: SIMD16<Int16>.self); p += pointBytes
                p.storeBytes(of: r.5, as: SIMD16<Int16>.self)
            }
            pair &+= 1
        }
    }

    /// Row `i` of `G'` times the column `(a, b, c)`: one of `rowsOfG`'s six values.
    @inline(__always)
    static func rowOfG(_ i: Int, _ a: SIMD16<Int16>, _ b: SIMD16<Int16>, _ c: SIMD16<Int16>) -> SIMD16<Int16> {
        switch i {
        case 0: return a
        case 1: return a &+ b &+ c
        case 2: return a &- b &+ c
        case 3: return a &+ (b &<< 1) &+ (c &<< 2)
        case 4: return a &- (b &<< 1) &+ (c &<< 2)
        default: return c
        }
    }

    /// `G'` (rows (1,0,0) (1,1,1) (1,-1,1) (1,2,4) (1,-2,4) (0,0,1)) times the column `(a, b, c)`; |values| stay
    /// within 7 * 7 * 127 after both passes, so Int16 lanes hold them exactly.
    @inline(__always)
    static func rowsOfG(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>, _ c: SIMD16<Int16>)
        -> (SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>) {
        let s: SIMD16<Int16> = a &+ c
        let s4: SIMD16<Int16> = a &+ (c &<< 2)
        let b2: SIMD16<Int16> = b &<< 1
        return (a, s &+ b, s &- b, s4 &+ b2, s4 &- b2, c)
    }
}

#if !SEGRUN_EDGE
extension Q8WinogradPlan {
    /// `run` for plans that transform their weights per run (`Q8WinogradKernels`): every tile is in the one pixel block;
    /// per pair of column blocks, the products of each row of 6 points for every tile (into one product tile per
    /// group of 6 tiles), then the output transform of every tile. Same sums and stores as `run`, so the same bits.
    func runWeightsPerRun(_ kernels: Q8WinogradKernels, input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer,
                          items: Range<Int>, scratch: UnsafeMutableRawPointer) {
        let cout = geometry.outChannels, stride = rowStride, count = tiles
        let planeStride = blockTiles &* stride, points = tile.points, rows = Q8Microkernel.rows
        let v = scratch.bindMemory(to: Int16.self, capacity: points &* planeStride)
        let groupStride = points &* rows &* 2 &* Q8Microkernel.columns, groups = depthGroups
        let tileGroupStride = groups.count &* groupStride, tileGroups = blockTiles / rows
        let productsRaw = scratch + points &* planeStride &* 2
        let products = productsRaw.bindMemory(to: Int32.self, capacity: tileGroups &* tileGroupStride)
        let sumsRaw = productsRaw + tileGroups &* tileGroupStride &* 4
        let sums = sumsRaw.bindMemory(to: Int32.self, capacity: 16 &* 16)
        let transformTemporary = sumsRaw + Q8WinogradPlan.sumsBytes
        let rowCount = kernels.transformedRowCount, pointStride = kernels.pointStride
        let weights = (sumsRaw + Q8WinogradPlan.tileScratchBytes).bindMemory(to: Int16.self, capacity: 2 &* rowCount)
        let elementBytes = stage.elementBytes
        var inputTransformed = false
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: rows) { aRows in
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: rows) { groupRows in
            for item in items {
                if !inputTransformed {
                    for t in 0..<count {
                        transformInputF4(tile: t, input: input, into: v + t &* stride, planeStride: planeStride, temporary: transformTemporary)
                    }
                    inputTransformed = true
                }
                let blocks = blockRange(item &- (item / columnGroups) &* columnGroups)
                var block = blocks.lowerBound
                while block < blocks.upperBound {
                    let span = wideTile && block &+ 1 < blocks.upperBound ? 2 : 1
                    let tileColumns = span &* Q8Microkernel.columns, tileSize = rows &* tileColumns
                    for pointRow in 0..<6 {
                        kernels.transform(block: block, pointRow: pointRow, into: weights)
                        if span == 2 { kernels.transform(block: block &+ 1, pointRow: pointRow, into: weights + rowCount) }
                        var t = 0, tileGroup = 0
                        while t < count {
                            let used = min(rows, count &- t)
                            for j in 0..<6 {
                                let position = pointRow &* 6 &+ j
                                let plane = v + position &* planeStride
                                for r in 0..<rows { aRows[r] = UnsafePointer(plane + (t &+ min(r, used &- 1)) &* stride) }
                                let b0 = UnsafePointer(weights + j &* pointStride)
                                multiplyPoint(groups: groups, aRows: aRows.baseAddress!, groupRows: groupRows.baseAddress!, b0: b0,
                                              b1: b0 + rowCount, span: span,
                                              tile: products + (tileGroup &* tileGroupStride &+ position &* tileSize), groupStride: groupStride)
                            }
                            t &+= rows
                            tileGroup &+= 1
                        }
                    }
                    var t = 0, tileGroup = 0
                    while t < count {
                        for r in 0..<min(rows, count &- t) {
                            for part in 0..<span {
                                let column = (block &+ part) &* Q8Microkernel.columns
                                let m = UnsafePointer(products + (tileGroup &* tileGroupStride &+ r &* tileColumns &+ part &* Q8Microkernel.columns))
                                storeTileF4(t &+ r, products: m, tileSize: tileSize, groupStride: groupStride, sums: sums,
                                            column: column, width: min(Q8Microkernel.columns, cout &- column), output: output,
                                            elementBytes: elementBytes)
                            }
                        }
                        t &+= rows
                        tileGroup &+= 1
                    }
                    block &+= span
                }
            }
        }
        }
    }
}
#endif
