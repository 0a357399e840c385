/// Convolution weights packed once, ahead of the run, for the `f32-igemm-6x(2W)` tile.
///
/// Layout: `[columnBlock][tap][inChannel][nr]` where a column block is `blockColumns` = nr output channels (2W,
/// or 16 for narrow layers on AVX-512: `CompiledISA.blockColumns`),
/// taps run ky-major (`tap = ky * kernelWidth + kx`), and output channels past `outChannels`
/// are zero. Bias is padded the same way, so the tile may always read a whole block of it.
public struct F32PackedConvWeights {
    public let data: AlignedBuffer
    public let bias: AlignedBuffer
    public let outChannels: Int
    public let inChannels: Int
    public let taps: Int
    public let blockColumns: Int
    public var columnBlocks: Int { (outChannels + blockColumns - 1) / blockColumns }
    public var blockStride: Int { taps * inChannels * blockColumns }

    /// Packs `weights[o][i][tap]` (OIHW with the two spatial axes flattened to `taps`).
    /// `bias` has `outChannels` values, or is nil for no bias.
    public init(oihw weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                outChannels: Int, inChannels: Int, taps: Int) {
        self.init(outChannels: outChannels, inChannels: inChannels, taps: taps, bias: bias) { o, i, t in
            weights[(o * inChannels + i) * taps + t]
        }
    }

    /// Packs from any indexing function `weight(o, i, tap)`; used for transposed and Winograd weights.
    public init(outChannels: Int, inChannels: Int, taps: Int, bias: UnsafePointer<Float>?,
                weight: (Int, Int, Int) -> Float) {
        self.init(zerosFor: outChannels, inChannels: inChannels, taps: taps)
        let nr = blockColumns, blocks = columnBlocks
        let p = data.pointer
        for block in 0..<blocks {
            for t in 0..<taps {
                for i in 0..<inChannels {
                    let row = p + ((block * taps + t) * inChannels + i) * nr
                    for j in 0..<nr {
                        let o = block * nr + j
                        row[j] = o < outChannels ? weight(o, i, t) : 0
                    }
                }
            }
        }
        if let bias {
            for o in 0..<outChannels { self.bias.pointer[o] = bias[o] }
        }
    }

    /// Zero weights and bias in the packed layout, for the packing initializers to fill.
    init(zerosFor outChannels: Int, inChannels: Int, taps: Int) {
        let nr = CompiledISA.blockColumns(outputChannels: outChannels)
        self.outChannels = outChannels
        self.inChannels = inChannels
        self.taps = taps
        self.blockColumns = nr
        let blocks = (outChannels + nr - 1) / nr
        data = AlignedBuffer(count: blocks * taps * inChannels * nr)
        bias = AlignedBuffer(count: blocks * nr)
    }
}
