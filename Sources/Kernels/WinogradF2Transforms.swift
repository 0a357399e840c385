/// Hand-unrolled transforms of Winograd F(2x2, 3x3), applied to columns then rows of a tile. They compute
/// the values of the matrices of `WinogradVariant.f2` without the generic routine's term lists.
enum WinogradF2 {
    /// `B^T d` for one column of 4 vectors: (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
    @inline(__always)
    static func input<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V) -> (V, V, V, V) where V.Scalar == Float {
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }

    /// `A^T m` for one column of 4 vectors into 2: (m0 + m1 + m2, m1 - m2 - m3).
    @inline(__always)
    static func output<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V) -> (V, V) where V.Scalar == Float {
        (m0 + m1 + m2, m1 - m2 - m3)
    }

    /// `B^T d B` of one 4x4 tile of channel vectors, read from `corner` (row stride `rowStride` floats,
    /// pixel stride `pixelStride`), written to `dst + xi * xiStride` for xi = 0..<16. `temp` holds 16 vectors.
    @inline(__always)
    static func inputTile<V: SIMD>(_: V.Type, corner: UnsafePointer<Float>, rowStride: Int, pixelStride: Int,
                                   dst: UnsafeMutablePointer<Float>, xiStride: Int,
                                   temp: UnsafeMutablePointer<V>) where V.Scalar == Float {
        for x in 0..<4 {
            let p = corner + x &* pixelStride
            let t = input(p.loadVector(V.self), (p + rowStride).loadVector(V.self), (p + 2 &* rowStride).loadVector(V.self),
                          (p + 3 &* rowStride).loadVector(V.self))
            temp[x] = t.0; temp[4 + x] = t.1; temp[8 + x] = t.2; temp[12 + x] = t.3
        }
        for r in 0..<4 {
            let row = temp + r &* 4
            let t = input(row[0], row[1], row[2], row[3])
            let out = dst + (r &* 4) &* xiStride
            out.storeVector(t.0)
            (out + xiStride).storeVector(t.1)
            (out + 2 &* xiStride).storeVector(t.2)
            (out + 3 &* xiStride).storeVector(t.3)
        }
    }

    /// `A^T M A` of one tile: reads `M[xi]` at `mTile + xi * xiStride`, fills `result` with 2x2 vectors
    /// (row-major) plus `bias`. `temp` holds 8 vectors.
    @inline(__always)
    static func outputTile<V: SIMD>(_: V.Type, mTile: UnsafeMutablePointer<Float>, xiStride: Int, bias: V,
                                    result: UnsafeMutablePointer<V>, temp: UnsafeMutablePointer<V>) where V.Scalar == Float {
        for x in 0..<4 {
            let p = mTile + x &* xiStride
            let s = 4 &* xiStride
            let t = output(p.loadVector(V.self), (p + s).loadVector(V.self), (p + 2 &* s).loadVector(V.self), (p + 3 &* s).loadVector(V.self))
            temp[x] = t.0; temp[4 + x] = t.1
        }
        for r in 0..<2 {
            let row = temp + r &* 4
            let t = output(row[0], row[1], row[2], row[3])
            result[r &* 2] = t.0 + bias
            result[r &* 2 &+ 1] = t.1 + bias
        }
    }
}
