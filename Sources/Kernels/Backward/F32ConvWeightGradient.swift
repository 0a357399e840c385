/// Weight and bias gradients of a convolution (groups 1): for every tap (ky, kx),
/// `dW[o][i][ky][kx] = sum over images and output pixels p of dY[p][o] * Xpad[p*stride + tap*dilation][i]`,
/// and `db[o] = sum dY[p][o]`.
///
/// The input gradient needs no kernel of its own: it is the transposed convolution of dY with the same
/// weights (`F32ConvTranspose`), and the transposed convolution's input gradient is the convolution.
///
/// A work item is one block of 6 output channels and one chunk of 2W input channels (W = vector width):
/// it computes every tap of that part of dW with a 6 x (2W) register tile, summing pixels in a fixed
/// order, so results do not depend on how items are spread over threads. (Blocks alone were too few to
/// share evenly: 32 output channels are 6 blocks.)
///
/// Both operands are first copied into panels that the tile reads contiguously: the padded input in
/// chunks of 2W channels (`[chunk][paddedHeight][paddedWidth][2W]`) and the output gradient in blocks
/// of 6 channels (`[block][pixel][6]`). Read in place (NHWC), a deep layer's rows are 2 KiB apart, so
/// every pixel of a tile pass fell into the same few cache sets and the pass ran from L3.
public enum F32ConvWeightGradient {
    public struct Plan: F32ConvWeightGradientPlan {
        public let geometry: Conv2dGeometry
        /// Input channels padded to the vector width (the padded image carries zero lanes).
        public let paddedChannels: Int

        public init(_ g: Conv2dGeometry) throws(ShapeError) {
            if let error = g.validate() { throw error }
            if g.groups != 1 { throw .unsupportedGroups(groups: g.groups, inChannels: g.inChannels, outChannels: g.outChannels) }
            geometry = g
            paddedChannels = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth)
        }

        public var taps: Int { geometry.kernelHeight * geometry.kernelWidth }
        public var preparedInputFloats: Int { geometry.paddedHeight * geometry.paddedWidth * paddedChannels }
        /// `prepareInput` works by padded rows, `prepareOutputGradient` by output rows.
        public var inputParts: Int { geometry.paddedHeight }
        public var gradientParts: Int { geometry.outHeight }
        /// Accumulator layout `[tap][o][paddedChannels]`.
        public var accumulatorFloats: Int { taps * geometry.outChannels * paddedChannels }
        /// Blocks of 6 output channels.
        public var outputBlocks: Int { (geometry.outChannels + 5) / 6 }
        /// Chunks of 2W input channels (the last may be W wide).
        public var inputChunks: Int { (paddedChannels + chunkWidth - 1) / chunkWidth }
        public var workItems: Int { outputBlocks * inputChunks }
        /// Output channels padded to the 6-row tile.
        public var paddedOutChannels: Int { outputBlocks * 6 }
        public var preparedGradientFloats: Int { geometry.outHeight * geometry.outWidth * paddedOutChannels }
        /// Channels per input chunk: two vectors, the tile's width.
        var chunkWidth: Int { 2 * CompiledISA.tileWidth }

        /// Copies output rows `rows` of one image's output gradient into 6-channel panels `[block][pixel][6]` (zeros past the
        /// last channel), so the tile loads six gradients from one contiguous stream.
        public func prepareOutputGradient(_ dy: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts rows: Range<Int>) {
            let cout = geometry.outChannels, count = geometry.outHeight &* geometry.outWidth, width = geometry.outWidth
            for p in (rows.lowerBound &* width)..<(rows.upperBound &* width) {
                let src = dy + p &* cout
                for block in 0..<outputBlocks {
                    let dst = prepared + (block &* count &+ p) &* 6, o0 = block &* 6
                    for j in 0..<6 { dst[j] = o0 &+ j < cout ? src[o0 &+ j] : 0 }
                }
            }
        }

        /// Zero-pads rows `rows` of one NHWC input image into chunk panels: chunk k holds channels
        /// `k * 2W ..< (k + 1) * 2W` (fewer in a last, narrower chunk) of every padded pixel, zero past
        /// `inChannels`.
        public func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts rows: Range<Int>) {
            let g = geometry, cw = chunkWidth, cin = g.inChannels, cp = paddedChannels
            let pw = g.paddedWidth, plane = g.paddedHeight &* pw
            for y in rows {
                let sy = y &- g.padTop
                for x in 0..<pw {
                    let sx = x &- g.padLeft
                    let inside = sy >= 0 && sy < g.inHeight && sx >= 0 && sx < g.inWidth
                    let src = image + (inside ? (sy &* g.inWidth &+ sx) &* cin : 0)
                    var c0 = 0
                    while c0 < cp {
                        let width = min(cw, cp &- c0)
                        let dst = prepared + (c0 &* plane &+ (y &* pw &+ x) &* width)
                        let copied = inside ? max(0, min(width, cin &- c0)) : 0
                        if copied > 0 { dst.update(from: src + c0, count: copied) }
                        if copied < width { (dst + copied).update(repeating: 0, count: width &- copied) }
                        c0 &+= width
                    }
                }
            }
        }

        /// Writes the accumulated gradient as OIHW (`outChannels x inChannels x kh x kw`), replacing its contents.
        public func finish(_ accumulator: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
            let g = geometry, cp = paddedChannels
            for o in 0..<g.outChannels {
                for i in 0..<g.inChannels {
                    for t in 0..<taps { weightGradient[(o &* g.inChannels &+ i) &* taps &+ t] = accumulator[(t &* g.outChannels &+ o) &* cp &+ i] }
                }
            }
        }
    }

    /// `db[o] = sum over pixels of dY[p][o]` (pixels in order, so deterministic).
    public static func biasGradient(_ dy: UnsafePointer<Float>, pixels: Int, channels: Int, into db: UnsafeMutablePointer<Float>) {
        db.update(repeating: 0, count: channels)
        for p in 0..<pixels {
            let row = dy + p &* channels
            for o in 0..<channels { db[o] += row[o] }
        }
    }
}

/// The steps of a weight-gradient computation, shared by the direct (`F32ConvWeightGradient.Plan`) and the
/// Winograd (`F32ConvWeightGradient.WinogradPlan`) kernels. Per image: copy or transform the input and the
/// output gradient into panels (independent parts, any split), then add the image's contribution for any
/// split of the work items (each item owns its part of the accumulator and sums in a fixed order, so
/// results do not depend on threads); at the end, `finish` writes dW as OIHW.
public protocol F32ConvWeightGradientPlan {
    var geometry: Conv2dGeometry { get }
    var preparedInputFloats: Int { get }
    var preparedGradientFloats: Int { get }
    var accumulatorFloats: Int { get }
    var inputParts: Int { get }
    var gradientParts: Int { get }
    var workItems: Int { get }
    func prepareInput(_ image: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>)
    func prepareOutputGradient(_ dy: UnsafePointer<Float>, into prepared: UnsafeMutablePointer<Float>, parts: Range<Int>)
    func accumulate(prepared: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                    into accumulator: UnsafeMutablePointer<Float>, items: Range<Int>)
    func finish(_ accumulator: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>)
}

extension F32ConvWeightGradientPlan {
    /// Both preparations as one range of parts, part k being part k of each (when it has one), so any
    /// split of them gives every thread some of each and one parallel phase serves both.
    public var preparationParts: Int { max(inputParts, gradientParts) }

    public func prepare(image: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, input: UnsafeMutablePointer<Float>,
                        gradient: UnsafeMutablePointer<Float>, parts: Range<Int>) {
        let inputs = parts.clamped(to: 0..<inputParts)
        if !inputs.isEmpty { prepareInput(image, into: input, parts: inputs) }
        let gradients = parts.clamped(to: 0..<gradientParts)
        if !gradients.isEmpty { prepareOutputGradient(dy, into: gradient, parts: gradients) }
    }

    /// Runs the whole batch on the calling thread (allocates). `outputGradient` NHWC, results OIHW and `[out]`.
    /// The panels start as NaN, so a result is wrong unless preparation writes every float of them (callers
    /// rely on that and skip clearing).
    public func runSingleThreaded(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                  weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?) {
        let g = geometry
        let prepared = AlignedBuffer(count: preparedInputFloats, zeroed: false)
        let gradient = AlignedBuffer(count: preparedGradientFloats, zeroed: false)
        prepared.pointer.initialize(repeating: .nan, count: preparedInputFloats)
        gradient.pointer.initialize(repeating: .nan, count: preparedGradientFloats)
        let acc = AlignedBuffer(count: accumulatorFloats)
        for n in 0..<g.batch {
            prepare(image: input + n &* g.inputShape.elementsPerImage, outputGradient: outputGradient + n &* g.outputShape.elementsPerImage,
                    input: prepared.pointer, gradient: gradient.pointer, parts: 0..<preparationParts)
            accumulate(prepared: prepared.constPointer, outputGradient: gradient.constPointer, into: acc.pointer, items: 0..<workItems)
        }
        finish(acc.constPointer, weightGradient: weightGradient)
        if let biasGradient {
            F32ConvWeightGradient.biasGradient(outputGradient, pixels: g.batch * g.outHeight * g.outWidth,
                                               channels: g.outChannels, into: biasGradient)
        }
    }
}
