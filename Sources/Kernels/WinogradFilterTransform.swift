/// Runs `body` over ranges that together cover `0..<count`, in any order and on any threads: how plans
/// let their caller spread weight packing over threads (Kernels themselves never start threads).
public typealias WorkSpreader = (_ count: Int, _ body: (Range<Int>) -> Void) -> Void

/// The spreader that runs everything on the calling thread.
public func runOnCallingThread(_ count: Int, _ body: (Range<Int>) -> Void) { if count > 0 { body(0..<count) } }

extension F32PackedConvWeights {
    /// Winograd-transformed 3x3 weights `U = G w G^T`, packed for the GEMMs of `F32ConvWinograd`: the
    /// alpha^2 transform points are the taps and input channels are padded to `paddedInChannels` with zero
    /// rows. `weights` are OIHW.
    ///
    /// Training transforms every layer's weights twice per step (forward and input gradient), so this is
    /// vectorized across 8 output channels, which are adjacent in the packed layout, and writes the packed
    /// rows directly. Float arithmetic: its rounding (1e-7) is far below the F(4x4)/F(6x6) rounding.
    /// `spread` runs the independent groups of 8 output channels (the caller may spread them over threads).
    init(winograd variant: WinogradVariant, oihw weights: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
         paddedInChannels: Int, spread: WorkSpreader) {
        let alpha = variant.alpha, points = alpha * alpha
        self.init(zerosFor: outChannels, inChannels: paddedInChannels, taps: points)
        let nr = blockColumns, blocks = columnBlocks
        let g = variant.g.map { Float($0) }  // alpha x 3
        let out = data.pointer, groupsPerBlock = nr / 8
        spread(blocks * groupsPerBlock) { groups in
            let filter = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 9 + 3 * alpha)
            defer { filter.deallocate() }
            let gw = filter + 9  // G w: alpha x 3
            for group in groups {
                let block = group / groupsPerBlock, lane0 = (group % groupsPerBlock) &* 8
                let o0 = block &* nr &+ lane0
                if o0 >= outChannels { continue }
                let lanes = min(8, outChannels &- o0)
                for i in 0..<inChannels {
                    for k in 0..<9 {
                        var v = SIMD8<Float>()
                        for l in 0..<lanes { v[l] = weights[((o0 &+ l) &* inChannels &+ i) &* 9 &+ k] }
                        filter[k] = v
                    }
                    for r in 0..<alpha {
                        let g0 = g[r &* 3], g1 = g[r &* 3 &+ 1], g2 = g[r &* 3 &+ 2]
                        for c in 0..<3 {
                            gw[r &* 3 &+ c] = (filter[c] * g0).addingProduct(filter[3 &+ c], g1).addingProduct(filter[6 &+ c], g2)
                        }
                    }
                    for r in 0..<alpha {
                        let a = gw[r &* 3], b = gw[r &* 3 &+ 1], c = gw[r &* 3 &+ 2]
                        for s in 0..<alpha {
                            let u = (a * g[s &* 3]).addingProduct(b, g[s &* 3 &+ 1]).addingProduct(c, g[s &* 3 &+ 2])
                            let row = out + (((block &* points &+ r &* alpha &+ s) &* paddedInChannels &+ i) &* nr &+ lane0)
                            if lanes == 8 {
                                UnsafeMutableRawPointer(row).storeBytes(of: u, as: SIMD8<Float>.self)
                            } else {
                                for l in 0..<lanes { row[l] = u[l] }
                            }
                        }
                    }
                }
            }
        }
    }
}
