/// Hand-unrolled 1D transforms of Winograd F(4x4, 3x3), applied to rows then columns of a tile.
/// They compute the same values as the matrices of `WinogradVariant.f4` with fewer operations, by
/// sharing the sums and differences that the rows of B^T and A^T have in common.
enum WinogradF4 {
    /// `B^T d` for one column of 6 vectors:
    ///
    ///     r0 = 4 d0 - 5 d2 + d4                     a = d4 - 4 d2,  b = d3 - 4 d1
    ///     r1 = -4 d1 - 4 d2 + d3 + d4  = a + b      c = d4 - d2,    e = 2 (d3 - d1)
    ///     r2 =  4 d1 - 4 d2 - d3 + d4  = a - b
    ///     r3 = -2 d1 - d2 + 2 d3 + d4  = c + e
    ///     r4 =  2 d1 - d2 - 2 d3 + d4  = c - e
    ///     r5 = 4 d1 - 5 d3 + d5
    @inline(__always)
    static func input<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V)
        -> (V, V, V, V, V, V) where V.Scalar == Float {
        let four = V(repeating: 4), minusFour = V(repeating: -4), minusFive = V(repeating: -5), two = V(repeating: 2)
        let a = d4.addingProduct(minusFour, d2)
        let b = d3.addingProduct(minusFour, d1)
        let c = d4 - d2
        let e = two * (d3 - d1)
        let r0 = d4.addingProduct(four, d0).addingProduct(minusFive, d2)
        let r5 = d5.addingProduct(four, d1).addingProduct(minusFive, d3)
        return (r0, a + b, a - b, c + e, c - e, r5)
    }

    /// `A^T m` for one column of 6 vectors into 4:
    ///
    ///     o0 = m0 + m1 + m2 + m3 + m4      = m0 + s12 + s34        s12 = m1 + m2,  d12 = m1 - m2
    ///     o1 = m1 - m2 + 2 (m3 - m4)       = d12 + 2 d34           s34 = m3 + m4,  d34 = m3 - m4
    ///     o2 = m1 + m2 + 4 (m3 + m4)       = s12 + 4 s34
    ///     o3 = m1 - m2 + 8 (m3 - m4) + m5  = d12 + 8 d34 + m5
    @inline(__always)
    static func output<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V)
        -> (V, V, V, V) where V.Scalar == Float {
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        return (m0 + s12 + s34,
                d12.addingProduct(V(repeating: 2), d34),
                s12.addingProduct(V(repeating: 4), s34),
                (d12 + m5).addingProduct(V(repeating: 8), d34))
    }

    /// `B^T d B` of one 6x6 tile of channel vectors, read from `corner` (row stride `rowStride` floats,
    /// pixel stride `pixelStride`), written to `dst + xi * xiStride` for xi = 0..<36. `temp` holds 36 vectors.
    @inline(__always)
    static func inputTile<V: SIMD>(_: V.Type, corner: UnsafePointer<Float>, rowStride: Int, pixelStride: Int,
                                   dst: UnsafeMutablePointer<Float>, xiStride: Int,
                                   temp: UnsafeMutablePointer<V>) where V.Scalar == Float {
        // Columns: temp[r * 6 + x] = (B^T d)[r][x]
        for x in 0..<6 {
            let p = corner + x &* pixelStride
            let t = input(p.loadVector(V.self), (p + rowStride).loadVector(V.self), (p + 2 &* rowStride).loadVector(V.self),
                          (p + 3 &* rowStride).loadVector(V.self), (p + 4 &* rowStride).loadVector(V.self),
                          (p + 5 &* rowStride).loadVector(V.self))
            temp[x] = t.0; temp[6 + x] = t.1; temp[12 + x] = t.2; temp[18 + x] = t.3; temp[24 + x] = t.4; temp[30 + x] = t.5
        }
        // Rows: V[r][s] = ((B^T d) B)[r][s]
        for r in 0..<6 {
            let row = temp + r &* 6
            let t = input(row[0], row[1], row[2], row[3], row[4], row[5])
            let out = dst + (r &* 6) &* xiStride
            out.storeVector(t.0)
            (out + xiStride).storeVector(t.1)
            (out + 2 &* xiStride).storeVector(t.2)
            (out + 3 &* xiStride).storeVector(t.3)
            (out + 4 &* xiStride).storeVector(t.4)
            (out + 5 &* xiStride).storeVector(t.5)
        }
    }

    /// `A^T M A` of one tile: reads `M[xi]` at `mTile + xi * xiStride`, fills `result` with 4x4 vectors
    /// (row-major) plus `bias`. `temp` holds 24 vectors.
    @inline(__always)
    static func outputTile<V: SIMD>(_: V.Type, mTile: UnsafeMutablePointer<Float>, xiStride: Int, bias: V,
                                    result: UnsafeMutablePointer<V>, temp: UnsafeMutablePointer<V>) where V.Scalar == Float {
        // Columns: temp[r * 6 + x] = (A^T M)[r][x]
        for x in 0..<6 {
            let p = mTile + x &* xiStride
            let s = 6 &* xiStride
            let t = output(p.loadVector(V.self), (p + s).loadVector(V.self), (p + 2 &* s).loadVector(V.self),
                           (p + 3 &* s).loadVector(V.self), (p + 4 &* s).loadVector(V.self), (p + 5 &* s).loadVector(V.self))
            temp[x] = t.0; temp[6 + x] = t.1; temp[12 + x] = t.2; temp[18 + x] = t.3
        }
        for r in 0..<4 {
            let row = temp + r &* 6
            let t = output(row[0], row[1], row[2], row[3], row[4], row[5])
            result[r &* 4] = t.0 + bias
            result[r &* 4 &+ 1] = t.1 + bias
            result[r &* 4 &+ 2] = t.2 + bias
            result[r &* 4 &+ 3] = t.3 + bias
        }
    }
}
