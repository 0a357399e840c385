#if arch(arm64) || (arch(x86_64) && SEGRUN_VNNI)
import CInt8
#endif

/// The int8 GEMM register tile for CPUs with 4-way int8 dot products: 6 rows (output pixels) x 16 columns
/// (output channels) of Int32 accumulators; each Int32 lane gains a 4-byte group's sum of four int8 products
/// (exact). Two instructions do it:
/// - `sdot` on aarch64 with `FEAT_DotProd`: signed x signed. Activations are stored flipped, `x ^ 0x80`
///   (that is `x - 128` as Int8), and the plans add `128 * sum(weights)` back in their offsets.
/// - `vpdpbusd` on x86-64 with AVX512-VNNI or AVX-VNNI (builds with SEGRUN_VNNI): unsigned x signed, so the
///   activations are stored as they are and nothing is added back.
/// `activationFlip` says which; either way results equal the `Q8Microkernel` path bit for bit.
/// `a` holds 6 row pointers to rows of `4 * depthQuads` activation bytes; `b` is one column block of
/// `Q8DotPackedWeights`. The 6 x 16 sums go to `tile` (row-major).
public enum Q8DotMicrokernel {
    /// Whether this CPU runs the dot-product path (asked when a plan is built): `getauxval(AT_HWCAP)` on
    /// aarch64 unless `SEGRUN_DOTPROD=0`; on x86-64 a build for a VNNI CPU unless `SEGRUN_VNNI=0`.
    public static var isAvailable: Bool {
        #if arch(arm64)
        return segrun_cpu_has_dotprod() != 0
        #elseif arch(x86_64) && SEGRUN_VNNI
        return segrun_vnni_enabled() != 0
        #else
        return false
        #endif
    }

    public static var instruction: String {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        return "vpdpbusd zmm (AVX512-VNNI, uint8 x int8 quads into int32, 6 x 32 tiles)"
        #elseif arch(x86_64) && SEGRUN_VNNI
        return "vpdpbusd ymm (VNNI, uint8 x int8 quads into int32)"
        #else
        return "sdot (aarch64 dot product, int8 quads into int32)"
        #endif
    }

    /// The byte each gathered activation is XORed with: 0x80 where the instruction multiplies signed by signed
    /// (`sdot`, and the portable twin), 0 where it takes unsigned activations (`vpdpbusd`).
    public static var activationFlip: UInt8 {
        #if arch(x86_64) && SEGRUN_VNNI
        return 0
        #else
        return 0x80
        #endif
    }

    /// `acc` plus, per Int32 lane i, the dot product of bytes 4i...4i+3 of `a` and `b` (`a` unsigned where
    /// `activationFlip` is 0, signed otherwise; `b` signed).
    @inline(__always)
    static func dot(_ acc: SIMD8<Int32>, _ a: SIMD32<Int8>, _ b: SIMD32<Int8>) -> SIMD8<Int32> {
        #if arch(arm64)
        return segrun_sdot_i8x32(acc, a, b)
        #elseif arch(x86_64) && SEGRUN_VNNI
        return segrun_dpbusd_i8x32(acc, a, b)
        #else
        // The portable twin of `sdot` (tests of the packing on other architectures; never the fast path).
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

extension Q8DotMicrokernel {
    /// Whether `runPair` exists in this build: a 6 x 32 tile over two column blocks on 512-bit registers
    /// (AVX512-VNNI), 12 `vpdpbusd zmm` per step.
    public static var hasPairTile: Bool {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        return true
        #else
        return false
        #endif
    }

    #if arch(x86_64) && SEGRUN_VNNI_ZMM
    /// Column blocks `b0` and `b1` at once: the 6 x 32 sums (row-major, 32 per row) go to `tile`.
    @inline(__always)
    static func runPair(depthQuads: Int, a: UnsafePointer<UnsafePointer<Int8>>, b0: UnsafePointer<Int8>, b1: UnsafePointer<Int8>,
                        tile: UnsafeMutablePointer<Int32>) {
        runPair(segments: 1, segmentQuads: depthQuads, a: a, b0: b0, b1: b1, tile: tile)
    }

    /// The same over a depth cut into `segments` runs of `segmentQuads` quads, each with its own 6 row pointers
    /// (`a[6 * s + r]`): an implicit GEMM reads each kernel row of a receptive field where it lies in the input.
    @inline(__always)
    static func runPair(segments: Int, segmentQuads: Int, a: UnsafePointer<UnsafePointer<Int8>>, b0: UnsafePointer<Int8>,
                        b1: UnsafePointer<Int8>, tile: UnsafeMutablePointer<Int32>) {
        runPair(segments: segments, segmentQuads: segmentQuads, row: { segment, r in a[6 &* segment &+ r] }, b0: b0, b1: b1, tile: tile)
    }

    /// `runPair` over rows at fixed steps in the input, as `runTall(base:...)`: row `r` of segment `s` at
    /// `base + s * segmentStep + min(r, count - 1) * rowStep`.
    @inline(__always)
    static func runPair(segments: Int, segmentQuads: Int, base: UnsafePointer<Int8>, rowStep: Int, segmentStep: Int, count: Int,
                        b0: UnsafePointer<Int8>, b1: UnsafePointer<Int8>, tile: UnsafeMutablePointer<Int32>) {
        let last = count &- 1
        runPair(segments: segments, segmentQuads: segmentQuads,
                row: { segment, r in base + (segment &* segmentStep &+ min(r, last) &* rowStep) }, b0: b0, b1: b1, tile: tile)
    }

    /// The tile of both segmented `runPair`s; `row(s, r)` gives row `r`'s pointer in segment `s`.
    @inline(__always)
    static func runPair(segments: Int, segmentQuads: Int, row: (_ segment: Int, _ r: Int) -> UnsafePointer<Int8>,
                        b0: UnsafePointer<Int8>, b1: UnsafePointer<Int8>, tile: UnsafeMutablePointer<Int32>) {
        var c00 = SIMD16<Int32>(), c01 = SIMD16<Int32>(), c10 = SIMD16<Int32>(), c11 = SIMD16<Int32>()
        var c20 = SIMD16<Int32>(), c21 = SIMD16<Int32>(), c30 = SIMD16<Int32>(), c31 = SIMD16<Int32>()
        var c40 = SIMD16<Int32>(), c41 = SIMD16<Int32>(), c50 = SIMD16<Int32>(), c51 = SIMD16<Int32>()
        var w0 = UnsafeRawPointer(b0), w1 = UnsafeRawPointer(b1)
        @inline(__always) func quad(_ row: UnsafePointer<Int8>, _ k: Int) -> SIMD64<Int8> {
            let four = UnsafeRawPointer(row + 4 &* k).loadUnaligned(as: Int32.self)
            return unsafeBitCast(SIMD16<Int32>(repeating: four), to: SIMD64<Int8>.self)
        }
        var segment = 0
        while segment < segments {
            let a0 = row(segment, 0), a1 = row(segment, 1), a2 = row(segment, 2)
            let a3 = row(segment, 3), a4 = row(segment, 4), a5 = row(segment, 5)
            var k = 0
            while k < segmentQuads {
                let v0 = w0.loadUnaligned(as: SIMD64<Int8>.self), v1 = w1.loadUnaligned(as: SIMD64<Int8>.self)
                var x = quad(a0, k)
                c00 = segrun_dpbusd_i8x64(c00, x, v0); c01 = segrun_dpbusd_i8x64(c01, x, v1)
                x = quad(a1, k)
                c10 = segrun_dpbusd_i8x64(c10, x, v0); c11 = segrun_dpbusd_i8x64(c11, x, v1)
                x = quad(a2, k)
                c20 = segrun_dpbusd_i8x64(c20, x, v0); c21 = segrun_dpbusd_i8x64(c21, x, v1)
                x = quad(a3, k)
                c30 = segrun_dpbusd_i8x64(c30, x, v0); c31 = segrun_dpbusd_i8x64(c31, x, v1)
                x = quad(a4, k)
                c40 = segrun_dpbusd_i8x64(c40, x, v0); c41 = segrun_dpbusd_i8x64(c41, x, v1)
                x = quad(a5, k)
                c50 = segrun_dpbusd_i8x64(c50, x, v0); c51 = segrun_dpbusd_i8x64(c51, x, v1)
                w0 += 64
                w1 += 64
                k &+= 1
            }
            segment &+= 1
        }
        let t = UnsafeMutableRawPointer(tile)
        t.storeBytes(of: c00, toByteOffset: 0, as: SIMD16<Int32>.self)
        t.storeBytes(of: c01, toByteOffset: 64, as: SIMD16<Int32>.self)
        t.storeBytes(of: c10, toByteOffset: 128, as: SIMD16<Int32>.self)
        t.storeBytes(of: c11, toByteOffset: 192, as: SIMD16<Int32>.self)
        t.storeBytes(of: c20, toByteOffset: 256, as: SIMD16<Int32>.self)
        t.storeBytes(of: c21, toByteOffset: 320, as: SIMD16<Int32>.self)
        t.storeBytes(of: c30, toByteOffset: 384, as: SIMD16<Int32>.self)
        t.storeBytes(of: c31, toByteOffset: 448, as: SIMD16<Int32>.self)
        t.storeBytes(of: c40, toByteOffset: 512, as: SIMD16<Int32>.self)
        t.storeBytes(of: c41, toByteOffset: 576, as: SIMD16<Int32>.self)
        t.storeBytes(of: c50, toByteOffset: 640, as: SIMD16<Int32>.self)
        t.storeBytes(of: c51, toByteOffset: 704, as: SIMD16<Int32>.self)
    }

    /// Rows per `runTall` tile.
    public static let tallRows = 2 * rows

    /// One column block over 12 rows: the 12 x 16 sums (row-major, 16 per row) go to `tile`. The depth is cut into
    /// `segments` runs of `segmentQuads` quads, each with its own 12 row pointers (`a[12 * s + r]`). A layer with
    /// 16 output channels, or a column group's odd last block, fills the 512-bit lanes this way: the pair tile
    /// would multiply the block twice for 6 rows, 12 `vpdpbusd zmm` per step either way.
    @inline(__always)
    static func runTall(segments: Int, segmentQuads: Int, a: UnsafePointer<UnsafePointer<Int8>>, b: UnsafePointer<Int8>,
                        tile: UnsafeMutablePointer<Int32>) {
        runTall(segments: segments, segmentQuads: segmentQuads, row: { segment, r in a[tallRows &* segment &+ r] }, b: b, tile: tile)
    }

    /// `runTall` over rows that lie at fixed steps in the input (a row of output pixels whose windows are inside the
    /// image): row `r` of segment `s` at `base + s * segmentStep + min(r, count - 1) * rowStep`; rows past `count`
    /// repeat the last one, whose sums the caller does not store.
    @inline(__always)
    static func runTall(segments: Int, segmentQuads: Int, base: UnsafePointer<Int8>, rowStep: Int, segmentStep: Int, count: Int,
                        b: UnsafePointer<Int8>, tile: UnsafeMutablePointer<Int32>) {
        let last = count &- 1
        runTall(segments: segments, segmentQuads: segmentQuads,
                row: { segment, r in base + (segment &* segmentStep &+ min(r, last) &* rowStep) }, b: b, tile: tile)
    }

    /// The tile of both `runTall`s; `row(s, r)` gives row `r`'s pointer in segment `s`.
    @inline(__always)
    static func runTall(segments: Int, segmentQuads: Int, row: (_ segment: Int, _ r: Int) -> UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                        tile: UnsafeMutablePointer<Int32>) {
        var c0 = SIMD16<Int32>(), c1 = SIMD16<Int32>(), c2 = SIMD16<Int32>(), c3 = SIMD16<Int32>()
        var c4 = SIMD16<Int32>(), c5 = SIMD16<Int32>(), c6 = SIMD16<Int32>(), c7 = SIMD16<Int32>()
        var c8 = SIMD16<Int32>(), c9 = SIMD16<Int32>(), c10 = SIMD16<Int32>(), c11 = SIMD16<Int32>()
        var w = UnsafeRawPointer(b)
        @inline(__always) func quad(_ row: UnsafePointer<Int8>, _ k: Int) -> SIMD64<Int8> {
            let four = UnsafeRawPointer(row + 4 &* k).loadUnaligned(as: Int32.self)
            return unsafeBitCast(SIMD16<Int32>(repeating: four), to: SIMD64<Int8>.self)
        }
        var segment = 0
        while segment < segments {
            let a0 = row(segment, 0), a1 = row(segment, 1), a2 = row(segment, 2), a3 = row(segment, 3)
            let a4 = row(segment, 4), a5 = row(segment, 5), a6 = row(segment, 6), a7 = row(segment, 7)
            let a8 = row(segment, 8), a9 = row(segment, 9), a10 = row(segment, 10), a11 = row(segment, 11)
            var k = 0
            while k < segmentQuads {
                let v = w.loadUnaligned(as: SIMD64<Int8>.self)
                c0 = segrun_dpbusd_i8x64(c0, quad(a0, k), v)
                c1 = segrun_dpbusd_i8x64(c1, quad(a1, k), v)
                c2 = segrun_dpbusd_i8x64(c2, quad(a2, k), v)
                c3 = segrun_dpbusd_i8x64(c3, quad(a3, k), v)
                c4 = segrun_dpbusd_i8x64(c4, quad(a4, k), v)
                c5 = segrun_dpbusd_i8x64(c5, quad(a5, k), v)
                c6 = segrun_dpbusd_i8x64(c6, quad(a6, k), v)
                c7 = segrun_dpbusd_i8x64(c7, quad(a7, k), v)
                c8 = segrun_dpbusd_i8x64(c8, quad(a8, k), v)
                c9 = segrun_dpbusd_i8x64(c9, quad(a9, k), v)
                c10 = segrun_dpbusd_i8x64(c10, quad(a10, k), v)
                c11 = segrun_dpbusd_i8x64(c11, quad(a11, k), v)
                w += 64
                k &+= 1
            }
            segment &+= 1
        }
        let t = UnsafeMutableRawPointer(tile)
        t.storeBytes(of: c0, toByteOffset: 0, as: SIMD16<Int32>.self)
        t.storeBytes(of: c1, toByteOffset: 64, as: SIMD16<Int32>.self)
        t.storeBytes(of: c2, toByteOffset: 128, as: SIMD16<Int32>.self)
        t.storeBytes(of: c3, toByteOffset: 192, as: SIMD16<Int32>.self)
        t.storeBytes(of: c4, toByteOffset: 256, as: SIMD16<Int32>.self)
        t.storeBytes(of: c5, toByteOffset: 320, as: SIMD16<Int32>.self)
        t.storeBytes(of: c6, toByteOffset: 384, as: SIMD16<Int32>.self)
        t.storeBytes(of: c7, toByteOffset: 448, as: SIMD16<Int32>.self)
        t.storeBytes(of: c8, toByteOffset: 512, as: SIMD16<Int32>.self)
        t.storeBytes(of: c9, toByteOffset: 576, as: SIMD16<Int32>.self)
        t.storeBytes(of: c10, toByteOffset: 640, as: SIMD16<Int32>.self)
        t.storeBytes(of: c11, toByteOffset: 704, as: SIMD16<Int32>.self)
    }
    #endif
}

/// The dot-product twin of `Q8MaddProbe`: 12 independent chains of the dot-product tile's step, `acc = dot(acc,
/// x, y)` (`vpdpbusd zmm` in AVX512-VNNI builds, 64 products per step; `vpdpbusd ymm` or `sdot` otherwise, 32).
/// The int8 peak where `Q8DotMicrokernel.isAvailable`.
public enum Q8DotProbe {
    public static func opsPerIteration() -> Double { Double(12 * (Q8DotMicrokernel.hasPairTile ? 64 : 32) * 2) }

    /// Returns a value derived from the accumulators so the work cannot be optimized away.
    @inline(never)
    public static func run(iterations: Int) -> Int32 {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        typealias Acc = SIMD16<Int32>
        typealias Bytes = SIMD64<Int8>
        @inline(__always) func step(_ a: inout Acc, _ y: Bytes) { a = segrun_dpbusd_i8x64(a, unsafeBitCast(a, to: Bytes.self), y) }
        #else
        typealias Acc = SIMD8<Int32>
        typealias Bytes = SIMD32<Int8>
        @inline(__always) func step(_ a: inout Acc, _ y: Bytes) { a = Q8DotMicrokernel.dot(a, unsafeBitCast(a, to: Bytes.self), y) }
        #endif
        var a0 = Acc(repeating: 1), a1 = Acc(repeating: 2), a2 = Acc(repeating: 3), a3 = Acc(repeating: 4)
        var a4 = Acc(repeating: 5), a5 = Acc(repeating: 6), a6 = Acc(repeating: 7), a7 = Acc(repeating: 8)
        var a8 = Acc(repeating: 9), a9 = Acc(repeating: 10), a10 = Acc(repeating: 11), a11 = Acc(repeating: 12)
        let y = Bytes(repeating: 3)
        for _ in 0..<iterations {
            step(&a0, y); step(&a1, y); step(&a2, y); step(&a3, y); step(&a4, y); step(&a5, y)
            step(&a6, y); step(&a7, y); step(&a8, y); step(&a9, y); step(&a10, y); step(&a11, y)
        }
        let s = ((a0 &+ a1) &+ (a2 &+ a3)) &+ ((a4 &+ a5) &+ (a6 &+ a7)) &+ ((a8 &+ a9) &+ (a10 &+ a11))
        return s.wrappedSum()
    }
}
