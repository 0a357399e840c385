/// F(4x4, 3x3) with its weights transformed at run time (`Q8WinogradPlan`'s `weightsPerRun`).
///
/// F(4x4, 3x3)'s transformed weights are 36 Int16 values per 3x3 kernel, 8x the int8 kernel's bytes: 4.7 MB for a
/// 256->256 layer. Inside a model every layer's weights come from memory, and on a layer with few tiles (16x16
/// pixels are 16 tiles) streaming them costs about as much as the products (0.46 ms alone, 0.79 ms in a ResNet-34
/// U-Net, Zen 4). This plan keeps the int8 kernels (laid out so the transform writes whole packed rows) and
/// transforms one column block at a time into per-thread scratch, after transforming the input of every tile once:
/// the layer reads its int8 weights once and the transformed ones stay in L2. The transform is the same integer
/// arithmetic as `transformWeightsF4`, so the bits equal the plan with stored weights.
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

    /// Int16 values of one transformed column block: 36 packed matrices.
    var transformedBlockCount: Int { 36 * pointStride }

    /// `G' k G'^T` of column block `block`, written as the 36 `Q8PackedWeights` blocks the microkernel reads
    /// (point `k` at `into + k * pointStride`).
    @inline(__always)
    func transform(block: Int, into out: UnsafeMutablePointer<Int16>) {
        let blockStride = pointStride
        var pair = 0
        while pair < depthPairs {
            let source = UnsafeRawPointer(storage + (block &* depthPairs &+ pair) &* Q8WinogradKernels.pairBytes)
            for half in 0..<2 {
                @inline(__always) func k(_ tap: Int) -> SIMD16<Int16> {
                    Q8Lanes.widen(source.loadUnaligned(fromByteOffset: tap &* 32 &+ half &* 16, as: SIMD16<Int8>.self))
                }
                // G' k: column j of the kernel through G''s rows, as 6 x 3 values.
                let c0 = Q8WinogradKernels.rowsOfG(k(0), k(3), k(6))
                let c1 = Q8WinogradKernels.rowsOfG(k(1), k(4), k(7))
                let c2 = Q8WinogradKernels.rowsOfG(k(2), k(5), k(8))
                let offset: Int = pair &* 32 &+ half &* 16
                let target = UnsafeMutableRawPointer(out + offset)
                @inline(__always) func row(_ i: Int, _ a: SIMD16<Int16>, _ b: SIMD16<Int16>, _ c: SIMD16<Int16>) {
                    let r = Q8WinogradKernels.rowsOfG(a, b, c)
                    let pointBytes = blockStride &* 2
                    var p = target + i &* 6 &* pointBytes
                    p.storeBytes(of: r.0, as: SIMD16<Int16>.self); p += pointBytes
                    p.storeBytes(of: r.1, as: SIMD16<Int16>.self); p += pointBytes
                    p.storeBytes(of: r.2, as: SIMD16<Int16>.self); p += pointBytes
                    p.storeBytes(of: r.3, as: SIMD16<Int16>.self); p += pointBytes
                    p.storeBytes(of: r.4, as: SIMD16<Int16>.self); p += pointBytes
                    p.storeBytes(of: r.5, as: SIMD16<Int16>.self)
                }
                row(0, c0.0, c1.0, c2.0)
                row(1, c0.1, c1.1, c2.1)
                row(2, c0.2, c1.2, c2.2)
                row(3, c0.3, c1.3, c2.3)
                row(4, c0.4, c1.4, c2.4)
                row(5, c0.5, c1.5, c2.5)
            }
            pair &+= 1
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
