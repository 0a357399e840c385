/// Int8 transposed convolution whose kernel equals its stride, with no padding (the U-Net up-step,
/// 2x2 stride 2): every input pixel owns a disjoint `k x k` patch of output pixels, so the layer is
/// one GEMM of the input pixels (depth = input channels) against `k * k * outChannels` columns,
/// ordered (ky, kx, out channel), whose sums are scattered to the patch.
public final class Q8ConvTransposePlan: Q8GemmLayerPlan {
    public let geometry: ConvTranspose2dGeometry
    public let weights: Q8PackedWeights
    public let stage: Q8OutputStage
    public let inputZeroPoint: UInt8
    public let blockPixels: Int

    /// Whether this plan can compute `g`.
    public static func supports(_ g: ConvTranspose2dGeometry) -> Bool {
        g.kernelHeight == g.strideY && g.kernelWidth == g.strideX && g.dilationY == 1 && g.dilationX == 1
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
            && g.outputPaddingY == 0 && g.outputPaddingX == 0
    }

    /// - Parameters:
    ///   - weights: IOHW int8 weights `[in][out][kh][kw]`.
    ///   - bias, multipliers: per output channel, as for `Q8Conv2dPlan`.
    public init(_ g: ConvTranspose2dGeometry, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, multipliers: [Float],
                inputZeroPoint: UInt8, activation: FusedActivation, output: Q8OutputTarget) throws(ShapeError) {
        if let error = g.validate() { throw error }
        guard Q8ConvTransposePlan.supports(g) else {
            throw .mismatch("int8 transposed convolution needs kernel == stride and no padding, got \(g)")
        }
        if multipliers.count != g.outChannels { throw .mismatch("\(multipliers.count) multipliers for \(g.outChannels) channels") }
        geometry = g
        let taps = g.kernelHeight * g.kernelWidth, cout = g.outChannels
        let packed = Q8PackedWeights(depth: g.inChannels, columns: taps * cout) { j, ci in
            let tap = j / cout, o = j % cout
            return weights[(ci * cout + o) * taps + tap]
        }
        self.weights = packed
        var offsets = [Int32](repeating: 0, count: taps * cout), columnMultipliers = [Float](repeating: 0, count: taps * cout)
        for j in 0..<taps * cout {
            let o = j % cout
            offsets[j] = (bias?[o] ?? 0) &- Int32(inputZeroPoint) &* packed.columnSums[j]
            columnMultipliers[j] = multipliers[o]
        }
        stage = Q8OutputStage(multipliers: columnMultipliers, offsets: offsets, activation: activation, target: output)
        self.inputZeroPoint = inputZeroPoint
        blockPixels = packed.gemmBlockPixels
    }

    public var pixels: Int { geometry.inHeight * geometry.inWidth }
    public var columnGroups = 1

    /// Computes input-pixel blocks `items` of one image.
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>,
                    scratch: UnsafeMutableRawPointer) {
        let g = geometry, cin = g.inChannels, cout = g.outChannels
        let rowStride = weights.depthPairs * 2
        let rows = scratch.bindMemory(to: Int16.self, capacity: blockPixels * rowStride)
        let outWidth = g.inWidth * g.kernelWidth, elementBytes = stage.elementBytes
        let columns = weights.columns
        let end = input + pixels &* cin
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: Q8Microkernel.rows) { aRows in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: Q8Microkernel.rows * Q8Microkernel.columns) { tile in
        // Per row of the block: the output pixel of its tap (0, 0). Per column block: its runs of columns that
        // share a tap, as (first column in the block, count, output channel, output pixel offset of the tap).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: blockPixels) { corner in
        withUnsafeTemporaryAllocation(of: (j: Int, count: Int, o: Int, offset: Int).self, capacity: Q8Microkernel.columns) { runs in
            var lastGathered = -1
            for item in items {
                let pixelBlock = item / columnGroups, group = item &- pixelBlock &* columnGroups
                let first = pixelBlock &* blockPixels, count = min(blockPixels, pixels &- first)
                if lastGathered != pixelBlock {
                    lastGathered = pixelBlock
                    var y = first / g.inWidth, x = first &- y &* g.inWidth
                    for r in 0..<count {
                        let dst = rows + r &* rowStride
                        Q8Conv2dPlan.widen(input + (first &+ r) &* cin, count: cin, end: end, to: dst)
                        if cin & 1 == 1 { dst[cin] = 0 }
                        corner[r] = y &* g.kernelHeight &* outWidth &+ x &* g.kernelWidth
                        x &+= 1
                        if x == g.inWidth { x = 0; y &+= 1 }
                    }
                }
                for block in blockRange(group) {
                    let column = block &* Q8Microkernel.columns
                    let width = min(Q8Microkernel.columns, columns &- column)
                    var runCount = 0, j = 0
                    while j < width {
                        let col = column &+ j, tap = col / cout, o = col &- tap &* cout
                        let run = min(width &- j, cout &- o)
                        let ky = tap / g.kernelWidth, kx = tap &- ky &* g.kernelWidth
                        runs[runCount] = (j, run, o, ky &* outWidth &+ kx)
                        runCount &+= 1
                        j &+= run
                    }
                    var t = 0
                    while t < count {
                        let tileRows = min(Q8Microkernel.rows, count &- t)
                        for r in 0..<Q8Microkernel.rows { aRows[r] = UnsafePointer(rows + (t &+ min(r, tileRows &- 1)) &* rowStride) }
                        Q8Microkernel.run(depthPairs: weights.depthPairs, a: UnsafePointer(aRows.baseAddress!),
                                          b: weights.block(block), tile: tile.baseAddress!)
                        for r in 0..<tileRows {
                            let base = corner[t &+ r]
                            for k in 0..<runCount {
                                let (j, run, o, offset) = runs[k]
                                stage.store(tile.baseAddress! + (r &* Q8Microkernel.columns &+ j), column: column &+ j, count: run,
                                            to: output + ((base &+ offset) &* cout &+ o) &* elementBytes)
                            }
                        }
                        t &+= Q8Microkernel.rows
                    }
                }
            }
        }
        }
        }
        }
    }
}
