#if arch(arm64)
import CInt8
#endif

/// The int8 GEMM register tile for CPUs with 4-way int8 dot products: 6 rows (output pixels) x 16 columns
/// (output channels) of Int32 accumulators, `sdot` on aarch64 with `FEAT_DotProd` (each Int32 lane gains a
/// 4-byte group's sum of four int8 x int8 products, exact).
///
/// Both operands are Int8. Activations are stored shifted, `x - 128` (`x ^ 0x80`), and the plans add
/// `128 * sum(weights)` back in their offsets, so results equal the `Q8Microkernel` path bit for bit.
/// `a` holds 6 row pointers to Int8 rows of `4 * depthQuads` values; `b` is one column block of
/// `Q8DotPackedWeights`. The 6 x 16 sums go to `tile` (row-major).
public enum Q8DotMicrokernel {
    /// Whether this CPU runs the dot-product path: `getauxval(AT_HWCAP)` on aarch64 (asked when a plan is
    /// built); never on x86-64, whose VNNI path is not written yet.
    public static var isAvailable: Bool {
        #if arch(arm64)
        return segrun_cpu_has_dotprod() != 0
        #else
        return false
        #endif
    }

    public static var instruction: String { "sdot (aarch64 dot product, int8 quads into int32)" }

    /// `acc` plus, per Int32 lane i, the dot product of bytes 4i...4i+3 of `a` and `b`.
    @inline(__always)
    static func dot(_ acc: SIMD8<Int32>, _ a: SIMD32<Int8>, _ b: SIMD32<Int8>) -> SIMD8<Int32> {
        #if arch(arm64)
        return segrun_sdot_i8x32(acc, a, b)
        #else
        // The portable twin (tests of the packing on other architectures; never the fast path).
        var r = acc
        for lane in 0..<8 {
            var s: Int32 = 0
            for j in 0..<4 { s &+= Int32(a[4 &* lane &+ j]) &* Int32(b[4 &* lane &+ j]) }
            r[lane] &+= s
        }
        return r
        #endif
    }
}

/// Int8 weights packed for `Q8DotMicrokernel`: a GEMM `B` of `depth` rows and `columns` columns, stored column
/// block by column block as `[columnBlock][depth / 4][16 columns][4 depth values]`, the layout `sdot` consumes
/// (each Int32 lane multiplies four adjacent depth values). Depth is padded to a multiple of 4 and columns to
/// 16 with zeros. Prepared once, at load.
public final class Q8DotPackedWeights {
    public let depth: Int
    public let columns: Int
    public var depthQuads: Int { (depth + 3) / 4 }
    public var columnBlocks: Int { (columns + Q8DotMicrokernel.columns - 1) / Q8DotMicrokernel.columns }
    /// Int8 values per column block.
    public var blockStride: Int { depthQuads * 4 * Q8DotMicrokernel.columns }
    let storage: UnsafeMutablePointer<Int8>

    public init(depth: Int, columns: Int, weight: (_ column: Int, _ k: Int) -> Int8) {
        precondition(depth > 0 && columns > 0, "empty int8 weight matrix \(depth)x\(columns)")
        self.depth = depth
        self.columns = columns
        let quads = (depth + 3) / 4, blocks = (columns + Q8DotMicrokernel.columns - 1) / Q8DotMicrokernel.columns
        let count = blocks * quads * 4 * Q8DotMicrokernel.columns
        storage = UnsafeMutablePointer<Int8>.allocate(capacity: max(count, 64))
        storage.initialize(repeating: 0, count: max(count, 64))
        for c in 0..<columns {
            let block = c / Q8DotMicrokernel.columns, lane = c % Q8DotMicrokernel.columns
            let base = storage + block * quads * 4 * Q8DotMicrokernel.columns + lane * 4
            for k in 0..<depth { base[(k / 4) * 4 * Q8DotMicrokernel.columns + (k & 3)] = weight(c, k) }
        }
    }

    deinit { storage.deallocate() }

    public var packedBytes: Int { columnBlocks * blockStride }
    func block(_ b: Int) -> UnsafePointer<Int8> { UnsafePointer(storage + b * blockStride) }
}

extension Q8DotMicrokernel {
    public static let rows = Q8Microkernel.rows
    public static let columns = Q8Microkernel.columns
}
