/// The fp32 register tile that every GEMM-shaped convolution in segrun runs on:
/// `f32-igemm-6x(2W)`, an indirect GEMM with 6 rows and two vectors of W floats per row.
///
///     C[r][j] = act( bias[j] + sum over taps t, k < depth:  A[r][offset[t] + k] * B[t][k][j] )
///
/// - A rows are given by pointers (`a[0..<6]`), so rows may be pixels of an NHWC image at any
///   stride, Winograd tiles, or GEMM rows: the kernel never assumes they are evenly spaced.
/// - Every tap adds the same float offset to each row pointer (a convolution tap in a padded
///   image, or 0 for a plain GEMM), then walks `depth` contiguous floats.
/// - B is packed for this column block: `[tap][k][2W]`, contiguous.
/// - C rows are pointers too; `rows` of them are stored (the caller repeats the last A row to fill
///   a partial tile) and `columns` (at most 2W) floats per row.
///
/// Accumulates in Float with `addingProduct` (fused multiply-add), in a fixed order over taps and k,
/// so the result does not depend on how tiles are spread over threads.
@inline(__always)
func f32IgemmTile<V: SIMD>(
    _: V.Type,
    a: UnsafePointer<UnsafePointer<Float>>,
    tapOffsets: UnsafePointer<Int>, tapCount: Int, depth: Int,
    b: UnsafePointer<Float>,
    c: UnsafePointer<UnsafeMutablePointer<Float>>, columnOffset: Int, rows: Int, columns: Int,
    bias: UnsafePointer<Float>?, activation: FusedActivation
) where V.Scalar == Float {
    let w = V.scalarCount
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    let a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
    var bp = UnsafeRawPointer(b)
    let bStep = 2 &* w &* 4
    var t = 0
    while t < tapCount {
        let off = tapOffsets[t]
        let p0 = a0 + off, p1 = a1 + off, p2 = a2 + off, p3 = a3 + off, p4 = a4 + off, p5 = a5 + off
        var k = 0
        while k < depth {
            let b0 = bp.loadUnaligned(as: V.self)
            let b1 = bp.loadUnaligned(fromByteOffset: w &* 4, as: V.self)
            var x = V(repeating: p0[k])
            c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            x = V(repeating: p1[k])
            c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            x = V(repeating: p2[k])
            c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            x = V(repeating: p3[k])
            c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            x = V(repeating: p4[k])
            c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
            x = V(repeating: p5[k])
            c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
            bp += bStep
            k &+= 1
        }
        t &+= 1
    }
    var bias0 = V(), bias1 = V()
    if let bias {
        bias0 = bias.loadVector(V.self)
        bias1 = (bias + w).loadVector(V.self)
    }
    let full = columns == 2 &* w
    storeTileRow(c[0] + columnOffset, c00 + bias0, c01 + bias1, full: full, columns: columns, activation)
    if rows > 1 { storeTileRow(c[1] + columnOffset, c10 + bias0, c11 + bias1, full: full, columns: columns, activation) }
    if rows > 2 { storeTileRow(c[2] + columnOffset, c20 + bias0, c21 + bias1, full: full, columns: columns, activation) }
    if rows > 3 { storeTileRow(c[3] + columnOffset, c30 + bias0, c31 + bias1, full: full, columns: columns, activation) }
    if rows > 4 { storeTileRow(c[4] + columnOffset, c40 + bias0, c41 + bias1, full: full, columns: columns, activation) }
    if rows > 5 { storeTileRow(c[5] + columnOffset, c50 + bias0, c51 + bias1, full: full, columns: columns, activation) }
}

/// Stores one tile row of two vectors after the fused activation; `columns` < 2W stores a partial row.
@inline(__always)
func storeTileRow<V: SIMD>(_ dst: UnsafeMutablePointer<Float>, _ lo: V, _ hi: V, full: Bool, columns: Int,
                           _ activation: FusedActivation) where V.Scalar == Float {
    let w = V.scalarCount
    let vlo = activation.apply(lo), vhi = activation.apply(hi)
    if full {
        dst.storeVector(vlo)
        (dst + w).storeVector(vhi)
    } else {
        dst.storeVector(vlo, count: columns)
        if columns > w { (dst + w).storeVector(vhi, count: columns &- w) }
    }
}

/// Rows of one microkernel tile.
public let igemmTileRows = 6

/// Runs `f32IgemmTile` at the width of the packed weights' blocks: this build's `CompiledISA.tileWidth`, or 8
/// for 16-column blocks (`CompiledISA.blockColumns`). This is the single place where the tile width is chosen.
@inline(__always)
func f32IgemmTileNative(
    a: UnsafePointer<UnsafePointer<Float>>,
    tapOffsets: UnsafePointer<Int>, tapCount: Int, depth: Int,
    b: UnsafePointer<Float>, blockColumns: Int,
    c: UnsafePointer<UnsafeMutablePointer<Float>>, columnOffset: Int, rows: Int, columns: Int,
    bias: UnsafePointer<Float>?, activation: FusedActivation
) {
    if CompiledISA.tileWidth == 16 && blockColumns == 32 {
        f32IgemmTile(SIMD16<Float>.self, a: a, tapOffsets: tapOffsets, tapCount: tapCount, depth: depth, b: b,
                     c: c, columnOffset: columnOffset, rows: rows, columns: columns, bias: bias, activation: activation)
    } else {
        f32IgemmTile(SIMD8<Float>.self, a: a, tapOffsets: tapOffsets, tapCount: tapCount, depth: depth, b: b,
                     c: c, columnOffset: columnOffset, rows: rows, columns: columns, bias: bias, activation: activation)
    }
}

/// A 12 x 16 GEMM tile, one 16-float vector a row, for the 16-column weight blocks of layers with at most 16
/// outputs on AVX-512 builds, whose 32 vector registers hold its 12 accumulators and the broadcasts: twice the
/// rows of `f32IgemmTile` per call and per weight load.
///
///     C[r][j] = 0 + sum over k < depth of A[r][k] * B[k][j],   r < 12, j < 16
///
/// A rows are `aStride` floats apart, C rows `cStride`; B is `[k][16]`. Each output is the same sum in the same
/// order (and the same `+ 0` of an absent bias) as `f32IgemmTile` gives it, so the bits do not depend on the tile.
@inline(__always)
func f32GemmTile12x16(a: UnsafePointer<Float>, aStride: Int, depth: Int, b: UnsafePointer<Float>,
                      c: UnsafeMutablePointer<Float>, cStride: Int) {
    typealias V = SIMD16<Float>
    var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
    var c6 = V(), c7 = V(), c8 = V(), c9 = V(), c10 = V(), c11 = V()
    let a0 = a, a1 = a + aStride, a2 = a + 2 &* aStride, a3 = a + 3 &* aStride, a4 = a + 4 &* aStride, a5 = a + 5 &* aStride
    let a6 = a + 6 &* aStride, a7 = a + 7 &* aStride, a8 = a + 8 &* aStride, a9 = a + 9 &* aStride
    let a10 = a + 10 &* aStride, a11 = a + 11 &* aStride
    var bp = UnsafeRawPointer(b)
    var k = 0
    while k < depth {
        let w = bp.loadUnaligned(as: V.self)
        c0 = c0.addingProduct(V(repeating: a0[k]), w)
        c1 = c1.addingProduct(V(repeating: a1[k]), w)
        c2 = c2.addingProduct(V(repeating: a2[k]), w)
        c3 = c3.addingProduct(V(repeating: a3[k]), w)
        c4 = c4.addingProduct(V(repeating: a4[k]), w)
        c5 = c5.addingProduct(V(repeating: a5[k]), w)
        c6 = c6.addingProduct(V(repeating: a6[k]), w)
        c7 = c7.addingProduct(V(repeating: a7[k]), w)
        c8 = c8.addingProduct(V(repeating: a8[k]), w)
        c9 = c9.addingProduct(V(repeating: a9[k]), w)
        c10 = c10.addingProduct(V(repeating: a10[k]), w)
        c11 = c11.addingProduct(V(repeating: a11[k]), w)
        bp += 64
        k &+= 1
    }
    let zero = V()
    c.storeVector(c0 + zero); (c + cStride).storeVector(c1 + zero); (c + 2 &* cStride).storeVector(c2 + zero)
    (c + 3 &* cStride).storeVector(c3 + zero); (c + 4 &* cStride).storeVector(c4 + zero); (c + 5 &* cStride).storeVector(c5 + zero)
    (c + 6 &* cStride).storeVector(c6 + zero); (c + 7 &* cStride).storeVector(c7 + zero); (c + 8 &* cStride).storeVector(c8 + zero)
    (c + 9 &* cStride).storeVector(c9 + zero); (c + 10 &* cStride).storeVector(c10 + zero); (c + 11 &* cStride).storeVector(c11 + zero)
}

/// Rows of `f32GemmTile12x16`.
let tallTileRows = 12
