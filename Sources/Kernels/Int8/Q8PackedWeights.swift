/// Int8 (or Winograd-transformed Int16) weights packed for `Q8Microkernel`: a GEMM `B` of `depth` rows (the reduction) and `columns`
/// output columns, widened to Int16 and stored column block by column block:
/// `[columnBlock][depth / 2][16 columns][2 depth values]`, the layout `vpmaddwd` consumes
/// (each Int32 lane multiplies two adjacent depth values). Depth is padded to even and columns to
/// 16 with zeros. Prepared once, at load.
public final class Q8PackedWeights {
    public let depth: Int
    public let columns: Int
    public var depthPairs: Int { (depth + 1) / 2 }
    public var columnBlocks: Int { (columns + Q8Microkernel.columns - 1) / Q8Microkernel.columns }
    /// Int16 values per column block.
    public var blockStride: Int { depthPairs * 2 * Q8Microkernel.columns }
    let storage: UnsafeMutablePointer<Int16>
    /// Sum of each column's weights (for the input zero-point correction), padded to whole blocks.
    public let columnSums: [Int32]

    /// `weight(column, k)` gives the int8 weight of output column `column` at reduction index `k`.
    public convenience init(depth: Int, columns: Int, weight: (_ column: Int, _ k: Int) -> Int8) {
        self.init(depth: depth, columns: columns, wide: { Int16(weight($0, $1)) })
    }

    /// The same with Int16 values (Winograd-transformed weights).
    public init(depth: Int, columns: Int, wide weight: (_ column: Int, _ k: Int) -> Int16) {
        precondition(depth > 0 && columns > 0, "empty int8 weight matrix \(depth)x\(columns)")
        self.depth = depth
        self.columns = columns
        let pairs = (depth + 1) / 2, blocks = (columns + Q8Microkernel.columns - 1) / Q8Microkernel.columns
        let count = blocks * pairs * 2 * Q8Microkernel.columns
        storage = UnsafeMutablePointer<Int16>.allocate(capacity: max(count, 32))
        storage.initialize(repeating: 0, count: max(count, 32))
        var sums = [Int32](repeating: 0, count: blocks * Q8Microkernel.columns)
        for c in 0..<columns {
            let block = c / Q8Microkernel.columns, lane = c % Q8Microkernel.columns
            let base = storage + block * pairs * 2 * Q8Microkernel.columns + lane * 2
            for k in 0..<depth {
                let w = weight(c, k)
                base[(k / 2) * 2 * Q8Microkernel.columns + (k & 1)] = w
                sums[c] += Int32(w)
            }
        }
        columnSums = sums
    }

    deinit { storage.deallocate() }

    public var packedBytes: Int { columnBlocks * blockStride * 2 }

    /// Pixels per work block of a GEMM whose A rows (one per pixel) are `depth` Int16 values: whole
    /// microkernel tiles, at most 16, with the block's gathered rows within 160 KiB so they stay in L2.
    var gemmBlockPixels: Int {
        max(1, min(16, (160 * 1024) / (Q8Microkernel.rows * depthPairs * 4))) * Q8Microkernel.rows
    }

    /// Scratch bytes of `pixels` gathered A rows.
    func gatheredRowBytes(pixels: Int) -> Int { pixels * depthPairs * 4 + 64 }
    func block(_ b: Int) -> UnsafePointer<Int16> { UnsafePointer(storage + b * blockStride) }
}
