#if (arch(x86_64) && SEGRUN_FMA) || arch(arm64)
import CInt8
#endif

/// The int8 GEMM register tile: 6 rows (output pixels) x 16 columns (output channels), Int32
/// accumulators, `vpmaddwd` on AVX2 and `smull`/`smull2`/`addp` on aarch64 (two Int16 products summed per
/// Int32 lane, exact).
///
/// `a` holds 6 row pointers to Int16 rows of `2 * depthPairs` values (widened activations);
/// `b` is one column block of `Q8PackedWeights`. The 6 x 16 sums go to `tile` (row-major).
public enum Q8Microkernel {
    public static let rows = 6
    public static let columns = 16

    /// The instruction this build multiplies with.
    public static var instruction: String {
        #if arch(x86_64) && SEGRUN_FMA
        return "vpmaddwd (AVX2, int16 pairs into int32)"
        #elseif arch(arm64)
        return "smull + addp (NEON, int16 pairs into int32)"
        #else
        return "portable Swift widening multiply"
        #endif
    }

    /// `instruction` through a call that stays in Kernels (see `CompiledISA.nameOfRunningCopy`).
    @export(interface)
    public static func instructionOfRunningCopy() -> String { instruction }

    @inline(__always)
    static func madd(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
        #if (arch(x86_64) && SEGRUN_FMA) || arch(arm64)
        return segrun_madd_i16x16(a, b)
        #else
        let p = SIMD16<Int32>(truncatingIfNeeded: a) &* SIMD16<Int32>(truncatingIfNeeded: b)
        return p.evenHalf &+ p.oddHalf
        #endif
    }

    @inline(__always)
    static func run(depthPairs: Int, a: UnsafePointer<UnsafePointer<Int16>>, b: UnsafePointer<Int16>,
                    tile: UnsafeMutablePointer<Int32>) {
        Q8Tile.run(PairStep.self, steps: depthPairs, a: a, b: UnsafeRawPointer(b), tile: tile)
    }
}

/// One step of an int8 register tile: the row's next group of reduction values broadcast across a 32-byte
/// vector, multiplied with 8 columns' groups and summed into their 8 Int32 lanes.
protocol Q8MultiplyStep {
    associatedtype Element
    associatedtype Operand: SIMD
    static func broadcast(_ row: UnsafePointer<Element>, _ k: Int) -> Operand
    static func accumulate(_ acc: SIMD8<Int32>, _ x: Operand, _ b: Operand) -> SIMD8<Int32>
}

/// `Q8Microkernel`'s step: Int16 pairs, `vpmaddwd` / `smull` + `addp`.
enum PairStep: Q8MultiplyStep {
    @inline(__always)
    static func broadcast(_ row: UnsafePointer<Int16>, _ k: Int) -> SIMD16<Int16> {
        let both = UnsafeRawPointer(row + 2 &* k).loadUnaligned(as: Int32.self)
        return unsafeBitCast(SIMD8<Int32>(repeating: both), to: SIMD16<Int16>.self)
    }

    @inline(__always)
    static func accumulate(_ acc: SIMD8<Int32>, _ x: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
        acc &+ Q8Microkernel.madd(x, b)
    }
}

/// `Q8DotMicrokernel`'s step: Int8 quads, `sdot`.
enum QuadStep: Q8MultiplyStep {
    @inline(__always)
    static func broadcast(_ row: UnsafePointer<Int8>, _ k: Int) -> SIMD32<Int8> {
        let four = UnsafeRawPointer(row + 4 &* k).loadUnaligned(as: Int32.self)
        return unsafeBitCast(SIMD8<Int32>(repeating: four), to: SIMD32<Int8>.self)
    }

    @inline(__always)
    static func accumulate(_ acc: SIMD8<Int32>, _ x: SIMD32<Int8>, _ b: SIMD32<Int8>) -> SIMD8<Int32> {
        Q8DotMicrokernel.dot(acc, x, b)
    }
}

/// The 6 x 16 register tile both int8 microkernels share: per step, 2 x 32 bytes of weights (columns 0-7 and
/// 8-15) and one broadcast group per row; 12 Int32 accumulators, stored row-major to `tile` at the end.
/// (Generic, but called only from this file, so every build specializes it.)
enum Q8Tile {
    @inline(__always)
    static func run<S: Q8MultiplyStep>(_: S.Type, steps: Int, a: UnsafePointer<UnsafePointer<S.Element>>, b: UnsafeRawPointer,
                                       tile: UnsafeMutablePointer<Int32>) {
        let a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
        var c00 = SIMD8<Int32>(), c01 = SIMD8<Int32>(), c10 = SIMD8<Int32>(), c11 = SIMD8<Int32>()
        var c20 = SIMD8<Int32>(), c21 = SIMD8<Int32>(), c30 = SIMD8<Int32>(), c31 = SIMD8<Int32>()
        var c40 = SIMD8<Int32>(), c41 = SIMD8<Int32>(), c50 = SIMD8<Int32>(), c51 = SIMD8<Int32>()
        var w = b
        var k = 0
        while k < steps {
            let b0 = w.loadUnaligned(as: S.Operand.self)
            let b1 = w.loadUnaligned(fromByteOffset: 32, as: S.Operand.self)
            var x = S.broadcast(a0, k)
            c00 = S.accumulate(c00, x, b0); c01 = S.accumulate(c01, x, b1)
            x = S.broadcast(a1, k)
            c10 = S.accumulate(c10, x, b0); c11 = S.accumulate(c11, x, b1)
            x = S.broadcast(a2, k)
            c20 = S.accumulate(c20, x, b0); c21 = S.accumulate(c21, x, b1)
            x = S.broadcast(a3, k)
            c30 = S.accumulate(c30, x, b0); c31 = S.accumulate(c31, x, b1)
            x = S.broadcast(a4, k)
            c40 = S.accumulate(c40, x, b0); c41 = S.accumulate(c41, x, b1)
            x = S.broadcast(a5, k)
            c50 = S.accumulate(c50, x, b0); c51 = S.accumulate(c51, x, b1)
            w += 64
            k &+= 1
        }
        let t = UnsafeMutableRawPointer(tile)
        t.storeBytes(of: c00, toByteOffset: 0, as: SIMD8<Int32>.self)
        t.storeBytes(of: c01, toByteOffset: 32, as: SIMD8<Int32>.self)
        t.storeBytes(of: c10, toByteOffset: 64, as: SIMD8<Int32>.self)
        t.storeBytes(of: c11, toByteOffset: 96, as: SIMD8<Int32>.self)
        t.storeBytes(of: c20, toByteOffset: 128, as: SIMD8<Int32>.self)
        t.storeBytes(of: c21, toByteOffset: 160, as: SIMD8<Int32>.self)
        t.storeBytes(of: c30, toByteOffset: 192, as: SIMD8<Int32>.self)
        t.storeBytes(of: c31, toByteOffset: 224, as: SIMD8<Int32>.self)
        t.storeBytes(of: c40, toByteOffset: 256, as: SIMD8<Int32>.self)
        t.storeBytes(of: c41, toByteOffset: 288, as: SIMD8<Int32>.self)
        t.storeBytes(of: c50, toByteOffset: 320, as: SIMD8<Int32>.self)
        t.storeBytes(of: c51, toByteOffset: 352, as: SIMD8<Int32>.self)
    }
}

extension Q8DotMicrokernel {
    @inline(__always)
    static func run(depthQuads: Int, a: UnsafePointer<UnsafePointer<Int8>>, b: UnsafePointer<Int8>,
                    tile: UnsafeMutablePointer<Int32>) {
        Q8Tile.run(QuadStep.self, steps: depthQuads, a: a, b: UnsafeRawPointer(b), tile: tile)
    }
}

extension Q8Microkernel {
    /// Whether `runPair` exists in this build: a 6 x 32 tile over two column blocks on 512-bit registers,
    /// 12 `vpdpwssd zmm` per step (AVX512-VNNI), used where `Q8DotMicrokernel.isAvailable` (so `SEGRUN_VNNI=0`
    /// keeps the `vpmaddwd` tile).
    public static var hasPairTile: Bool {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        return true
        #else
        return false
        #endif
    }

    #if arch(x86_64) && SEGRUN_VNNI_ZMM
    /// Column blocks `b0` and `b1` of the same `Q8PackedWeights` at once: the 6 x 32 sums (row-major, 32 per
    /// row) go to `tile`. Same bits as two `run` calls.
    @inline(__always)
    static func runPair(depthPairs: Int, a: UnsafePointer<UnsafePointer<Int16>>, b0: UnsafePointer<Int16>, b1: UnsafePointer<Int16>,
                        tile: UnsafeMutablePointer<Int32>) {
        var c00 = SIMD16<Int32>(), c01 = SIMD16<Int32>(), c10 = SIMD16<Int32>(), c11 = SIMD16<Int32>()
        var c20 = SIMD16<Int32>(), c21 = SIMD16<Int32>(), c30 = SIMD16<Int32>(), c31 = SIMD16<Int32>()
        var c40 = SIMD16<Int32>(), c41 = SIMD16<Int32>(), c50 = SIMD16<Int32>(), c51 = SIMD16<Int32>()
        var w0 = UnsafeRawPointer(b0), w1 = UnsafeRawPointer(b1)
        let a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
        @inline(__always) func pair(_ row: UnsafePointer<Int16>, _ k: Int) -> SIMD32<Int16> {
            let two = UnsafeRawPointer(row + 2 &* k).loadUnaligned(as: Int32.self)
            return unsafeBitCast(SIMD16<Int32>(repeating: two), to: SIMD32<Int16>.self)
        }
        var k = 0
        while k < depthPairs {
            let v0 = w0.loadUnaligned(as: SIMD32<Int16>.self), v1 = w1.loadUnaligned(as: SIMD32<Int16>.self)
            var x = pair(a0, k)
            c00 = segrun_dpwssd_i16x32(c00, x, v0); c01 = segrun_dpwssd_i16x32(c01, x, v1)
            x = pair(a1, k)
            c10 = segrun_dpwssd_i16x32(c10, x, v0); c11 = segrun_dpwssd_i16x32(c11, x, v1)
            x = pair(a2, k)
            c20 = segrun_dpwssd_i16x32(c20, x, v0); c21 = segrun_dpwssd_i16x32(c21, x, v1)
            x = pair(a3, k)
            c30 = segrun_dpwssd_i16x32(c30, x, v0); c31 = segrun_dpwssd_i16x32(c31, x, v1)
            x = pair(a4, k)
            c40 = segrun_dpwssd_i16x32(c40, x, v0); c41 = segrun_dpwssd_i16x32(c41, x, v1)
            x = pair(a5, k)
            c50 = segrun_dpwssd_i16x32(c50, x, v0); c51 = segrun_dpwssd_i16x32(c51, x, v1)
            w0 += 64
            w1 += 64
            k &+= 1
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
    #endif
}
