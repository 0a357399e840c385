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
    static func pair(_ row: UnsafePointer<Int16>, _ k: Int) -> SIMD16<Int16> {
        let both = UnsafeRawPointer(row + 2 &* k).loadUnaligned(as: Int32.self)
        return unsafeBitCast(SIMD8<Int32>(repeating: both), to: SIMD16<Int16>.self)
    }

    @inline(__always)
    static func run(depthPairs: Int, a: UnsafePointer<UnsafePointer<Int16>>, b: UnsafePointer<Int16>,
                    tile: UnsafeMutablePointer<Int32>) {
        let a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
        var c00 = SIMD8<Int32>(), c01 = SIMD8<Int32>(), c10 = SIMD8<Int32>(), c11 = SIMD8<Int32>()
        var c20 = SIMD8<Int32>(), c21 = SIMD8<Int32>(), c30 = SIMD8<Int32>(), c31 = SIMD8<Int32>()
        var c40 = SIMD8<Int32>(), c41 = SIMD8<Int32>(), c50 = SIMD8<Int32>(), c51 = SIMD8<Int32>()
        var w = UnsafeRawPointer(b)
        var k = 0
        while k < depthPairs {
            let b0 = w.loadUnaligned(as: SIMD16<Int16>.self)
            let b1 = w.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
            var x = pair(a0, k)
            c00 &+= madd(x, b0); c01 &+= madd(x, b1)
            x = pair(a1, k)
            c10 &+= madd(x, b0); c11 &+= madd(x, b1)
            x = pair(a2, k)
            c20 &+= madd(x, b0); c21 &+= madd(x, b1)
            x = pair(a3, k)
            c30 &+= madd(x, b0); c31 &+= madd(x, b1)
            x = pair(a4, k)
            c40 &+= madd(x, b0); c41 &+= madd(x, b1)
            x = pair(a5, k)
            c50 &+= madd(x, b0); c51 &+= madd(x, b1)
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
