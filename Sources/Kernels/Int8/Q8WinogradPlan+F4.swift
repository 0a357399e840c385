/// The Winograd tile of an exact int8 plan: F(2x2, 3x3) or F(4x4, 3x3) (see `Q8WinogradPlan`).
public enum Q8WinogradTile: Equatable, Sendable {
    case f2
    case f4

    /// Output pixels per tile side.
    public var outputSize: Int { self == .f2 ? 2 : 4 }
    /// Winograd points (products per input and output channel pair and tile).
    public var points: Int { self == .f2 ? 16 : 36 }
    /// What the input transform subtracts from every UInt8 input: F(4x4, 3x3) works on `x - 128` so its
    /// transformed values fit Int16.
    var inputShift: Int { self == .f2 ? 0 : 128 }
}

/// F(4x4, 3x3): weight transform, exactness check, input and output transforms.
///
/// Matrices (Lavin and Gray's points 0, 1, -1, 2, -2 and infinity), with `G = diag(f) G'`:
/// ```
/// B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
/// G'  = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 0 0 1]      f = (1/4, -1/6, -1/6, 1/24, 1/24, 1)
/// A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
/// ```
/// `576 y = Ã^T (U' . V) Ã` with `Ã^T = A^T diag(24 f)`:
/// `[6 -4 -4 1 1 0; 0 -4 4 2 -2 0; 0 -4 -4 4 4 0; 0 -4 4 8 -8 24]`.
extension Q8WinogradPlan {
    /// Whether F(4x4, 3x3) is exact for these OIHW 3x3 weights: for every output channel `128 * sum|w| < 2^25`,
    /// so the integer sum `y` of inputs in [-128, 127] can be told from `576 y` modulo 2^32.
    public static func isExactF4(weights: UnsafePointer<Int8>, inChannels: Int, outChannels: Int) -> Bool {
        let depth = inChannels * 9
        for o in 0..<outChannels {
            var s = 0
            for i in 0..<depth { s += abs(Int(weights[o * depth + i])) }
            if 128 * s >= 1 << 25 { return false }
        }
        return true
    }

    /// At most this many depth groups (`f4DepthGroups`): each adds an output transform per tile.
    public static let maxF4DepthGroups = 4

    /// Depth pairs cut into consecutive groups within each of which F(4x4, 3x3) is exact: for every output channel,
    /// `128 * sum|w|` over the group's input channels stays below 2^25. Each group's `576 y_g` then gives `y_g`
    /// exactly, and their sum is the layer's `y` (|y| <= 128 * 9 * 127 * 1024 < 2^31). One group where `isExactF4`.
    public static func f4DepthGroups(weights: UnsafePointer<Int8>, inChannels: Int, outChannels: Int) -> [Range<Int>] {
        let pairs = (inChannels + 1) / 2, limit = (1 << 25) / 128
        /// sum|w| of output channel `o` over the input channels of depth pair `pair`.
        func pairSum(_ o: Int, _ pair: Int) -> Int {
            var sum = 0
            for i in (o * inChannels + 2 * pair) * 9..<(o * inChannels + min(2 * pair + 2, inChannels)) * 9 { sum += abs(Int(weights[i])) }
            return sum
        }
        var running = [Int](repeating: 0, count: outChannels)
        var groups: [Range<Int>] = [], start = 0
        for pair in 0..<pairs {
            if pair > start && (0..<outChannels).contains(where: { running[$0] + pairSum($0, pair) >= limit }) {
                groups.append(start..<pair)
                start = pair
                for o in 0..<outChannels { running[o] = 0 }
            }
            for o in 0..<outChannels { running[o] += pairSum(o, pair) }
        }
        groups.append(start..<pairs)
        return groups
    }

    /// `G' k G'^T` as 36 values (row-major 6x6); |value| <= 7 * 7 * 127.
    static func transformWeightsF4(_ k: [Int32], _ store: (Int, Int16) -> Void) {
        @inline(__always) func g(_ a: Int32, _ b: Int32, _ c: Int32) -> (Int32, Int32, Int32, Int32, Int32, Int32) {
            (a, a &+ b &+ c, a &- b &+ c, a &+ 2 &* b &+ 4 &* c, a &- 2 &* b &+ 4 &* c, c)
        }
        let c0 = g(k[0], k[3], k[6]), c1 = g(k[1], k[4], k[7]), c2 = g(k[2], k[5], k[8])
        for i in 0..<6 {
            let (a, b, c) = i == 0 ? (c0.0, c1.0, c2.0) : i == 1 ? (c0.1, c1.1, c2.1) : i == 2 ? (c0.2, c1.2, c2.2)
                : i == 3 ? (c0.3, c1.3, c2.3) : i == 4 ? (c0.4, c1.4, c2.4) : (c0.5, c1.5, c2.5)
            let r = g(a, b, c), o = i &* 6
            store(o, Int16(r.0)); store(o &+ 1, Int16(r.1)); store(o &+ 2, Int16(r.2))
            store(o &+ 3, Int16(r.3)); store(o &+ 4, Int16(r.4)); store(o &+ 5, Int16(r.5))
        }
    }

    /// `V = B^T (d - 128) B` of tile `tile`'s 6x6 input patch, channel by channel, into the 36 planes.
    /// `temporary`: `transformF4`'s scratch.
    @inline(__always)
    func transformInputF4(tile: Int, input: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Int16>, planeStride: Int,
                          temporary: UnsafeMutableRawPointer) {
        let g = geometry, cin = g.inChannels
        let ty = tile / tilesWide, tx = tile &- ty &* tilesWide
        let y0 = 4 &* ty &- g.padTop, x0 = 4 &* tx &- g.padLeft
        if y0 >= 0 && y0 &+ 6 <= g.inHeight && x0 >= 0 && x0 &+ 6 <= g.inWidth && cin & 15 == 0 {
            // The whole patch inside the image: element k sits at a fixed offset from the patch's corner.
            let corner = input + (y0 &* g.inWidth &+ x0) &* cin, rowBytes = g.inWidth &* cin
            var c = 0
            while c < cin {
                let base = UnsafeRawPointer(corner + c)
                @inline(__always) func d(_ i: Int, _ j: Int) -> SIMD16<Int16> {
                    Q8Lanes.widen(base.loadUnaligned(fromByteOffset: i &* rowBytes &+ j &* cin, as: SIMD16<UInt8>.self)) &- 128
                }
                Q8WinogradPlan.transformF4(d, temporary: temporary, store: { k, value in
                    UnsafeMutableRawPointer(row + (k &* planeStride &+ c)).storeBytes(of: value, as: SIMD16<Int16>.self)
                })
                c &+= 16
            }
            return
        }
        withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: 36) { patch in
            for i in 0..<6 {
                for j in 0..<6 {
                    let y = y0 &+ i, x = x0 &+ j
                    patch[i &* 6 &+ j] = (y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth) ? input + (y &* g.inWidth &+ x) &* cin : nil
                }
            }
            let padded = Int16(inputZeroPoint) &- 128
            var c = 0
            let zero = SIMD16<Int16>(repeating: padded)
            while c &+ 16 <= cin {
                @inline(__always) func d(_ i: Int, _ j: Int) -> SIMD16<Int16> {
                    guard let p = patch[i &* 6 &+ j] else { return zero }
                    return Q8Lanes.widen(UnsafeRawPointer(p + c).loadUnaligned(as: SIMD16<UInt8>.self)) &- 128
                }
                Q8WinogradPlan.transformF4(d, temporary: temporary, store: { k, value in
                    UnsafeMutableRawPointer(row + (k &* planeStride &+ c)).storeBytes(of: value, as: SIMD16<Int16>.self)
                })
                c &+= 16
            }
            while c < cin {
                @inline(__always) func d(_ i: Int, _ j: Int) -> SIMD16<Int16> {
                    SIMD16<Int16>(repeating: patch[i &* 6 &+ j].map { Int16($0[c]) &- 128 } ?? padded)
                }
                Q8WinogradPlan.transformF4(d, temporary: temporary, store: { k, value in row[k &* planeStride &+ c] = value[0] })
                c &+= 1
            }
            if cin & 1 == 1 { for k in 0..<36 { row[k &* planeStride &+ cin] = 0 } }
        }
    }

    /// One B^T pass over six values: `(4d0 - 5d2 + d4, (d4 - 4d2) + (d3 - 4d1), (d4 - 4d2) - (d3 - 4d1),
    /// (d4 - d2) + 2(d3 - d1), (d4 - d2) - 2(d3 - d1), 4d1 - 5d3 + d5)`.
    @inline(__always)
    static func inputRowsF4(_ d0: SIMD16<Int16>, _ d1: SIMD16<Int16>, _ d2: SIMD16<Int16>, _ d3: SIMD16<Int16>,
                            _ d4: SIMD16<Int16>, _ d5: SIMD16<Int16>)
        -> (SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>) {
        let a = d4 &- (d2 &<< 2), b = d3 &- (d1 &<< 2)
        let c = d4 &- d2, e = (d3 &- d1) &<< 1
        return ((d0 &<< 2) &- (d2 &<< 2) &- d2 &+ d4, a &+ b, a &- b, c &+ e, c &- e, (d1 &<< 2) &- (d3 &<< 2) &- d3 &+ d5)
    }

    /// B^T d B for 16 channels at once; `d(i, j)` is the patch element at row i, column j (6x6), `store(k, v)` point k
    /// (row-major). (Row and column as two arguments: a single index cost a division by 6 per load.)
    /// `temporary`: 36 vectors' bytes of scratch.
    @inline(__always)
    static func transformF4(_ d: (_ i: Int, _ j: Int) -> SIMD16<Int16>, temporary: UnsafeMutableRawPointer,
                            store: (Int, SIMD16<Int16>) -> Void) {
        do {
            let t = VectorSlots<SIMD16<Int16>>(base: temporary)
            // Columns first: t[i][j] = (B^T d)[i][j].
            for j in 0..<6 {
                let r = inputRowsF4(d(0, j), d(1, j), d(2, j), d(3, j), d(4, j), d(5, j))
                t[j] = r.0; t[6 &+ j] = r.1; t[12 &+ j] = r.2; t[18 &+ j] = r.3; t[24 &+ j] = r.4; t[30 &+ j] = r.5
            }
            for i in 0..<6 {
                let b = i &* 6
                let r = inputRowsF4(t[b], t[b &+ 1], t[b &+ 2], t[b &+ 3], t[b &+ 4], t[b &+ 5])
                store(b, r.0); store(b &+ 1, r.1); store(b &+ 2, r.2); store(b &+ 3, r.3); store(b &+ 4, r.4); store(b &+ 5, r.5)
            }
        }
    }

    /// One Ã^T pass over six values: `(6m0 - 4s12 + s34, 2d34 - 4d12, 4s34 - 4s12, 8d34 - 4d12 + 24m5)` with
    /// `s12 = m1 + m2`, `d12 = m1 - m2`, `s34 = m3 + m4`, `d34 = m3 - m4` (wrapping).
    @inline(__always)
    static func outputRowsF4(_ m0: SIMD16<Int32>, _ m1: SIMD16<Int32>, _ m2: SIMD16<Int32>, _ m3: SIMD16<Int32>,
                             _ m4: SIMD16<Int32>, _ m5: SIMD16<Int32>) -> (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>) {
        let s12 = m1 &+ m2, d12 = m1 &- m2, s34 = m3 &+ m4, d34 = m3 &- m4
        let s12x4 = s12 &<< 2, d12x4 = d12 &<< 2
        return ((m0 &<< 2) &+ (m0 &<< 1) &- s12x4 &+ s34,
                (d34 &<< 1) &- d12x4,
                (s34 &<< 2) &- s12x4,
                (d34 &<< 3) &- d12x4 &+ (m5 &<< 4) &+ (m5 &<< 3))
    }

    /// `y` from `z = 576 y` modulo 2^32: times 9's inverse modulo 2^32 (0x38E38E39) it is `64 y` modulo 2^32, which
    /// is `64 y` itself where |y| < 2^25 (the exactness bound), and an arithmetic shift by 6 leaves `y`.
    @inline(__always)
    static func divide576(_ z: SIMD16<Int32>) -> SIMD16<Int32> {
        (z &* SIMD16<Int32>(repeating: 0x38E3_8E39)) &>> 6
    }

    /// `Ã^T M Ã / 576` for one tile and 16 columns, then the output stage for each of its up to 16 pixels. With
    /// several depth groups, group `k`'s products are at `m + k * groupStride` and their `y_g` are summed.
    @inline(__always)
    func storeTileF4(_ tile: Int, products m: UnsafePointer<Int32>, tileSize: Int, groupStride: Int, sums: UnsafeMutablePointer<Int32>,
                     column: Int, width: Int, output: UnsafeMutableRawPointer, elementBytes: Int) {
        let g = geometry
        let s = UnsafeMutableRawPointer(sums)
        let ty = tile / tilesWide, tx = tile &- ty &* tilesWide
        let outHeight = self.outHeight, outWidth = self.outWidth, step = g.outChannels
        // 24 vectors after the sums (`tileScratchBytes`).
        let q = VectorSlots<SIMD16<Int32>>(base: UnsafeMutableRawPointer(sums) + Q8WinogradPlan.sumsBytes)
        let groups = depthGroups.count
        for group in 0..<groups {
            let mg = m + group &* groupStride
            @inline(__always) func at(_ k: Int) -> SIMD16<Int32> {
                UnsafeRawPointer(mg + k &* tileSize).loadUnaligned(as: SIMD16<Int32>.self)
            }
            // Over the patch rows: q[r][j] = (Ã^T M)[r][j].
            for j in 0..<6 {
                let r = Q8WinogradPlan.outputRowsF4(at(j), at(6 &+ j), at(12 &+ j), at(18 &+ j), at(24 &+ j), at(30 &+ j))
                q[j] = r.0; q[6 &+ j] = r.1; q[12 &+ j] = r.2; q[18 &+ j] = r.3
            }
            #if arch(x86_64) && SEGRUN_VNNI_ZMM
            if groups == 1, width == 16, case .quantized(let zp) = stage.target {
                // 16 quantized columns: each output pixel requantized from registers (`store`'s 16-lane step).
                let (offset, multiplier) = stage.sixteenColumns(at: column), activation = stage.activation
                let ox = 4 &* tx, columns = min(4, outWidth &- ox)
                for r in 0..<min(4, outHeight &- 4 &* ty) {
                    let b = r &* 6
                    let y = Q8WinogradPlan.outputRowsF4(q[b], q[b &+ 1], q[b &+ 2], q[b &+ 3], q[b &+ 4], q[b &+ 5])
                    let rowStart = output + (((4 &* ty &+ r) &* outWidth &+ ox) &* step &+ column)
                    for c in 0..<columns {
                        let value = c == 0 ? y.0 : c == 1 ? y.1 : c == 2 ? y.2 : y.3
                        (rowStart + c &* step).storeBytes(
                            of: Q8Requantization.requantize(Q8WinogradPlan.divide576(value) &+ offset, multiplier: multiplier,
                                                            activation: activation, zeroPoint: zp), as: SIMD16<UInt8>.self)
                    }
                }
                return
            }
            #endif
            // Over its columns: output (r, c) goes to sums[(r * 4 + c) * 16 + lane]; with several depth groups each
            // group's exact y_g is added to the ones before.
            for r in 0..<4 {
                let b = r &* 6
                let y = Q8WinogradPlan.outputRowsF4(q[b], q[b &+ 1], q[b &+ 2], q[b &+ 3], q[b &+ 4], q[b &+ 5])
                let row = VectorSlots<SIMD16<Int32>>(base: s + (r &* 4) &* 64)
                if group == 0 {
                    row[0] = Q8WinogradPlan.divide576(y.0); row[1] = Q8WinogradPlan.divide576(y.1)
                    row[2] = Q8WinogradPlan.divide576(y.2); row[3] = Q8WinogradPlan.divide576(y.3)
                } else {
                    row[0] = row[0] &+ Q8WinogradPlan.divide576(y.0); row[1] = row[1] &+ Q8WinogradPlan.divide576(y.1)
                    row[2] = row[2] &+ Q8WinogradPlan.divide576(y.2); row[3] = row[3] &+ Q8WinogradPlan.divide576(y.3)
                }
            }
        }
        for i in 0..<4 {
            let oy = 4 &* ty &+ i
            if oy >= outHeight { break }
            for j in 0..<4 {
                let ox = 4 &* tx &+ j
                if ox >= outWidth { break }
                let p = oy &* outWidth &+ ox
                stage.store(UnsafePointer(sums + (i &* 4 &+ j) &* 16), column: column, count: width,
                            to: output + (p &* g.outChannels &+ column) &* elementBytes)
            }
        }
    }
}
