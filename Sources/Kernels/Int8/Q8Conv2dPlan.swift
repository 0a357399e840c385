/// Int8 convolution (groups 1, any kernel, stride, dilation and padding) as a GEMM over im2col rows.
///
/// The output pixels of one image are cut into blocks; for each block the receptive fields are
/// gathered once into Int16 rows (`depth = kernelHeight * kernelWidth * inChannels`, taps outer,
/// channels inner; positions in the padding get the input zero point, which stands for real 0),
/// then every column block of the packed weights runs over the block's 6-pixel tiles. The block is
/// sized so that its rows stay in L2 while the weights stream through once per block.
///
/// Input: one NHWC UInt8 image. Output: one NHWC image of UInt8 or Float (see `Q8OutputTarget`).
public final class Q8Conv2dPlan: Q8GemmLayerPlan {
    public let geometry: Conv2dGeometry
    public let weights: Q8PackedWeights
    public let stage: Q8OutputStage
    public let inputZeroPoint: UInt8
    /// Output pixels per work item (a multiple of 6).
    public let blockPixels: Int

    /// - Parameters:
    ///   - weights: OIHW int8 weights `[out][in][kh][kw]`.
    ///   - bias: Int32 bias at scale `inputScale * weightScale[o]`, or nil.
    ///   - multipliers: per output channel, `inputScale * weightScale[o] / outputScale` (quantized output)
    ///     or `inputScale * weightScale[o]` (float output).
    public init(_ g: Conv2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget) throws(ShapeError) {
        if let error = g.validate() { throw error }
        if g.groups != 1 { throw .mismatch("int8 convolution needs groups 1, got \(g.groups)") }
        if multipliers.count != g.outChannels { throw .mismatch("\(multipliers.count) multipliers for \(g.outChannels) channels") }
        geometry = g
        let taps = g.kernelHeight * g.kernelWidth, cin = g.inChannels
        let packed = Q8PackedWeights(depth: taps * cin, columns: g.outChannels) { o, k in
            let tap = k / cin, ci = k % cin
            return weights[(o * cin + ci) * taps + tap]
        }
        self.weights = packed
        var offsets = [Int32](repeating: 0, count: g.outChannels)
        for o in 0..<g.outChannels {
            offsets[o] = (bias?[o] ?? 0) &- Int32(inputZeroPoint) &* packed.columnSums[o]
        }
        stage = Q8OutputStage(multipliers: multipliers, offsets: offsets, activation: activation, target: output)
        self.inputZeroPoint = inputZeroPoint
        blockPixels = packed.gemmBlockPixels
    }

    public var pixels: Int { geometry.outHeight * geometry.outWidth }
    public var columnGroups = 1

    /// Computes pixel blocks `items` of one image. `output` points at the image's first element.
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>,
                    scratch: UnsafeMutableRawPointer) {
        let g = geometry
        let rowStride = weights.depthPairs * 2
        let rows = scratch.bindMemory(to: Int16.self, capacity: blockPixels * rowStride)
        let cout = g.outChannels, elementBytes = stage.elementBytes
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: Q8Microkernel.rows) { aRows in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: Q8Microkernel.rows * Q8Microkernel.columns) { tile in
                var lastGathered = -1
                for item in items {
                    let pixelBlock = item / columnGroups, group = item &- pixelBlock &* columnGroups
                    let first = pixelBlock &* blockPixels, count = min(blockPixels, pixels &- first)
                    let gather = lastGathered != pixelBlock
                    lastGathered = pixelBlock
                    if gather { for r in 0..<count { self.gather(pixel: first &+ r, input: input, into: rows + r &* rowStride) } }
                    for block in blockRange(group) {
                        let column = block &* Q8Microkernel.columns
                        let width = min(Q8Microkernel.columns, cout &- column)
                        let b = weights.block(block)
                        var t = 0
                        while t < count {
                            let tileRows = min(Q8Microkernel.rows, count &- t)
                            for r in 0..<Q8Microkernel.rows { aRows[r] = UnsafePointer(rows + (t &+ min(r, tileRows &- 1)) &* rowStride) }
                            Q8Microkernel.run(depthPairs: weights.depthPairs, a: UnsafePointer(aRows.baseAddress!), b: b,
                                              tile: tile.baseAddress!)
                            for r in 0..<tileRows {
                                let p = first &+ t &+ r
                                stage.store(tile.baseAddress! + r &* Q8Microkernel.columns, column: column, count: width,
                                            to: output + (p &* cout &+ column) &* elementBytes)
                            }
                            t &+= Q8Microkernel.rows
                        }
                    }
                }
            }
        }
    }

    /// Writes the receptive field of output pixel `p` as Int16, taps outer and channels inner.
    @inline(__always)
    private func gather(pixel p: Int, input: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Int16>) {
        let g = geometry, cin = g.inChannels
        let oy = p / g.outWidth, ox = p &- oy &* g.outWidth
        let zero = Int16(inputZeroPoint)
        var dst = row
        for ky in 0..<g.kernelHeight {
            let iy = oy &* g.strideY &- g.padTop &+ ky &* g.dilationY
            for kx in 0..<g.kernelWidth {
                let ix = ox &* g.strideX &- g.padLeft &+ kx &* g.dilationX
                if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                    let src = input + (iy &* g.inWidth &+ ix) &* cin
                    for c in 0..<cin { dst[c] = Int16(src[c]) }
                } else {
                    dst.update(repeating: zero, count: cin)
                }
                dst += cin
            }
        }
        if (g.kernelHeight * g.kernelWidth * cin) & 1 == 1 { dst[0] = 0 }
    }
}
