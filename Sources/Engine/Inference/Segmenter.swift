import Kernels

/// Options of the inference pipeline.
public struct InferenceOptions: Equatable {
    /// Sliding-window tile side; nil runs the whole image at once.
    public var tile: Int?
    /// Fraction of a tile that neighbouring tiles share.
    public var overlap: Double
    public var blending: TileBlending
    /// Test-time augmentation: average over the identity and the horizontal, vertical and double flips.
    public var flips: Bool

    public init(tile: Int? = nil, overlap: Double = 0.5, blending: TileBlending = .gaussian, flips: Bool = false) {
        self.tile = tile
        self.overlap = overlap
        self.blending = blending
        self.flips = flips
    }
}

/// The runtime's segmentation pipeline on top of the executor: normalization, padding to the
/// network's multiple and cropping back, sliding windows with blending, flip TTA, and the turn from
/// logits to probabilities, binary masks or class maps. Deep-supervision heads are averaged.
public final class Segmenter {
    public let model: Model
    public let executor: Executor

    public init(_ model: Model, threads: Int = ParallelFor.coreCount, policy: AlgorithmPolicy = .measured) throws(GraphError) {
        self.model = model
        if model.isMultilabel && !(1...8).contains(model.classes) {
            throw .shape(node: "output", "a multi-label model has 1 to 8 labels (label bits of one byte), this one \(model.classes)")
        }
        executor = try Executor(model: model, threads: threads, policy: policy)
    }

    /// Maps pixel intensities in [0, 1] (NCHW or NCDHW) to the network's input: `(x - mean[c]) / std[c]`.
    public func normalize(_ x: Tensor) -> Tensor {
        var out = x
        let mean = model.inputMean, std = model.inputStd
        let hw = x.shape.pixelsPerImage
        for n in 0..<x.shape.batch {
            for c in 0..<x.shape.channels {
                let m = c < mean.count ? mean[c] : 0, s = c < std.count && std[c] != 0 ? std[c] : 1
                let base = (n * x.shape.channels + c) * hw
                for i in base..<(base + hw) { out.data[i] = (x.data[i] - m) / s }
            }
        }
        return out
    }

    /// The logits of every graph output for a normalized input of whatever H x W: padded to the model's
    /// multiple, run, cropped back.
    public func logits(_ x: Tensor) throws(GraphError) -> [Tensor] {
        let padded = TensorOps.padToMultiple(x, model.inputMultiple)
        var outputs = try executor.run(padded)
        for i in 0..<outputs.count {
            outputs[i] = TensorOps.crop(outputs[i], height: x.shape.height, width: x.shape.width)
        }
        return outputs
    }

    /// The logits of a normalized input, averaged over the deep-supervision heads (one head's as they are):
    /// what sliding windows over volumes accumulate, as nnU-Net and MONAI do.
    public func meanLogits(_ x: Tensor) throws(GraphError) -> Tensor {
        let heads = try logits(x)
        var sum = heads[0]
        if heads.count > 1 {
            for head in heads.dropFirst() { for i in 0..<sum.data.count { sum.data[i] += head.data[i] } }
            let inv = 1 / Float(heads.count)
            for i in 0..<sum.data.count { sum.data[i] *= inv }
        }
        return sum
    }

    /// Class probabilities (N x classes x H x W) of a normalized input, averaged over deep-supervision heads.
    public func probabilities(_ x: Tensor) throws(GraphError) -> Tensor {
        let heads = try logits(x)
        let threads = executor.threads
        var sum = TensorOps.probabilities(fromLogits: heads[0], multilabel: model.isMultilabel, threads: threads)
        if heads.count > 1 {
            for head in heads.dropFirst() {
                let p = TensorOps.probabilities(fromLogits: head, multilabel: model.isMultilabel, threads: threads)
                for i in 0..<sum.data.count { sum.data[i] += p.data[i] }
            }
            let inv = 1 / Float(heads.count)
            for i in 0..<sum.data.count { sum.data[i] *= inv }
        }
        return sum
    }

    /// Probabilities with the options applied: resizing to the training size (when the model records one),
    /// flips, then sliding windows inside each flip; resized back to the input's size.
    public func probabilities(_ x: Tensor, options: InferenceOptions) throws(GraphError) -> Tensor {
        if let size = model.inputSize, size.height != x.shape.height || size.width != x.shape.width {
            let p = try probabilities(TensorOps.resize(x, height: size.height, width: size.width), atModelSize: options)
            return TensorOps.resize(p, height: x.shape.height, width: x.shape.width)
        }
        return try probabilities(x, atModelSize: options)
    }

    func probabilities(_ x: Tensor, atModelSize options: InferenceOptions) throws(GraphError) -> Tensor {
        if !options.flips { return try windowed(x, options) }
        var sum: Tensor? = nil
        for (v, h) in [(false, false), (false, true), (true, false), (true, true)] {
            let p = TensorOps.flip(try windowed(TensorOps.flip(x, vertical: v, horizontal: h), options), vertical: v, horizontal: h)
            if sum == nil { sum = p } else { for i in 0..<p.data.count { sum!.data[i] += p.data[i] } }
        }
        var out = sum!
        for i in 0..<out.data.count { out.data[i] *= 0.25 }
        return out
    }

    /// Sliding-window inference: tiles of `options.tile` at the overlap, each run whole, blended with
    /// the tile weights. An image that fits in one tile runs whole, exactly as `probabilities(_:)`.
    func windowed(_ x: Tensor, _ options: InferenceOptions) throws(GraphError) -> Tensor {
        let s = x.shape
        guard let tile = options.tile, s.height > tile || s.width > tile else { return try probabilities(x) }
        let th = min(tile, s.height), tw = min(tile, s.width)
        let weights = SlidingWindow.weights(height: th, width: tw, blending: options.blending)
        var sum = Tensor(zeros: TensorShape(batch: s.batch, channels: model.classes, height: s.height, width: s.width))
        var weightSum = [Float](repeating: 0, count: s.height * s.width)
        for y0 in SlidingWindow.starts(size: s.height, tile: th, overlap: options.overlap) {
            for x0 in SlidingWindow.starts(size: s.width, tile: tw, overlap: options.overlap) {
                let p = try probabilities(TensorOps.crop(x, y0: y0, x0: x0, height: th, width: tw))
                for nc in 0..<(s.batch * p.shape.channels) {
                    for y in 0..<th {
                        for xx in 0..<tw {
                            sum.data[(nc * s.height + y0 + y) * s.width + x0 + xx] += p.data[(nc * th + y) * tw + xx] * weights[y * tw + xx]
                        }
                    }
                }
                for y in 0..<th { for xx in 0..<tw { weightSum[(y0 + y) * s.width + x0 + xx] += weights[y * tw + xx] } }
            }
        }
        let hw = s.height * s.width
        for nc in 0..<(s.batch * sum.shape.channels) {
            for p in 0..<hw { sum.data[nc * hw + p] /= weightSum[p] }
        }
        return sum
    }

    /// Binary masks (1 where the foreground probability reaches the model's threshold), class maps, or for a
    /// multi-label model label bits (bit c set where label c reaches its threshold), N x H x W.
    public func labels(_ probabilities: Tensor) -> [UInt8] {
        TensorOps.labels(probabilities, of: model)
    }
}
