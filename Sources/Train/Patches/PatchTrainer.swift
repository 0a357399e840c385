import Foundation
import Engine
import Volumes
import ImageIO

/// Training a 3D model on patches of volumes: each epoch draws `patchesPerEpoch` seeded, augmented patches
/// (`PatchSampler`), trains on batches of them through `Autograd` (the loop, optimizer, schedule, checkpoints
/// and exact resume are `Trainer`'s), then segments every validation block whole by Gaussian sliding windows
/// (`Segmenter.volumeProbabilities`) and scores it: pooled Dice and IoU per class, the best checkpoint by pooled
/// Dice. The validation loss is the loss on fixed, unaugmented validation patches.
public final class PatchTrainer {
    public let options: TrainingOptions
    public let data: VolumePatchData
    /// D, H, W.
    public let patch: [Int]
    public let patchesPerEpoch: Int
    public private(set) var model: Model
    let autograd: Autograd
    let optimizer: Optimizer
    let loss: Loss
    let sampler: PatchSampler
    let validationPatches: [(image: [Float], labels: [UInt8])]
    let mean: [Float], std: [Float]

    public init(model: Model, data: VolumePatchData, patch: [Int], patchesPerEpoch: Int, augmentation: PatchAugmentation,
                options: TrainingOptions) throws {
        if model.inputSpatialRank != 3 { throw DatasetError.invalid("patch training takes a 3D model (unet3d-xs, unet3d-s, ...)") }
        if data.training.isEmpty { throw DatasetError.invalid("no training blocks") }
        if patch.count != 3 || patch.contains(where: { $0 < 1 || $0 % model.inputMultiple != 0 }) {
            throw DatasetError.invalid("the patch \(patch.map(String.init).joined(separator: "x")) must be three extents, each a multiple of the model's input multiple \(model.inputMultiple)")
        }
        if patchesPerEpoch < options.batchSize { throw DatasetError.invalid("\(patchesPerEpoch) patches per epoch is less than one batch of \(options.batchSize)") }
        if data.modelClasses != model.classes { throw DatasetError.invalid("the data has \(data.modelClasses) model classes, the model \(model.classes)") }
        self.options = options
        self.data = data
        self.patch = patch
        self.patchesPerEpoch = patchesPerEpoch
        (mean, std) = data.statistics()
        var model = model
        model.metadata[MetadataKey.inputMean] = .floats(mean)
        model.metadata[MetadataKey.inputStd] = .floats(std)
        model.metadata[MetadataKey.classNames] = .strings(data.classNames)
        model.metadata[MetadataKey.trainDataset] = .string(data.name)
        model.metadata[MetadataKey.inputPatch] = .floats(patch.map(Float.init))
        model.metadata[MetadataKey.inputVolumeSpacing] = .floats(data.plan.target.map(Float.init))
        model.metadata[MetadataKey.inputVolumeInterpolation] = .string(data.plan.imageInterpolation.rawValue)
        model.metadata[MetadataKey.inputVolumeLabelInterpolation] = .string(data.plan.labelInterpolation.rawValue)
        if let orientation = data.plan.orientation { model.metadata[MetadataKey.inputVolumeOrientation] = .string(orientation.description) }
        model.metadata[MetadataKey.inputVolumeIntensity] = .string(data.windows.map(\.description).joined(separator: ","))
        if options.headBias == .prior || (options.headBias == .auto && model.classes > 1) {
            _ = PriorHeadBias.apply(to: &model.graph, frequencies: data.classFrequencies(classes: max(2, model.classes)))
        }
        self.model = model
        Trainer.keepFreedMemory
        autograd = try Autograd(model.graph, threads: options.threads, fuseActivations: true)
        autograd.convolutions = options.convolutions
        optimizer = Optimizer(options.optimizer, weightDecay: options.weightDecay, clipNorm: options.clipNorm)
        loss = options.loss ?? Loss.defaultLoss(classes: model.classes)
        if let problem = loss.problem(classes: model.classes, multilabel: false) { throw DatasetError.invalid(problem) }
        sampler = PatchSampler(data, patch: patch, augmentation: augmentation, seed: options.seed, mean: mean, std: std)
        var held = data
        held.training = data.validation
        let fixed = PatchSampler(held, patch: patch, augmentation: .none, seed: options.seed ^ 0x7A11, mean: mean, std: std)
        validationPatches = data.validation.isEmpty ? [] : (0..<max(options.batchSize, 2 * data.validation.count)).map { fixed.sample(epoch: 0, index: $0) }
    }

    var batchesPerEpoch: Int { patchesPerEpoch / options.batchSize }

    /// Patches `indices` as a batch: the input (N x C x D x H x W) and the loss target on the N x K x (D*H) x W view.
    func batch(_ patches: [(image: [Float], labels: [UInt8])]) -> (Tensor, Target) {
        let n = patches.count, (d, h, w) = (patch[0], patch[1], patch[2])
        let x = Tensor(shape: TensorShape(batch: n, channels: data.channels, depth: d, height: h, width: w), data: patches.flatMap(\.image))
        let labels = patches.flatMap(\.labels)
        if model.classes == 1 {
            return (x, .binary(Tensor(shape: TensorShape(batch: n, channels: 1, height: d * h, width: w), data: labels.map { Float($0) })))
        }
        return (x, .classes(labels.map { Int32($0) }, batch: n, height: d * h, width: w))
    }

    /// Batch `b` of `epoch`: patches `b * batchSize ..< (b + 1) * batchSize` of the epoch's draws.
    func draw(epoch: Int, batch b: Int) -> (Tensor, Target) {
        batch((0..<options.batchSize).map { sampler.sample(epoch: epoch, index: b * options.batchSize + $0) })
    }

    /// A volume tensor seen as an image of D*H rows (the same memory), as the losses take it.
    static func flattened(_ t: Tensor) -> Tensor {
        let s = t.shape
        return Tensor(shape: TensorShape(batch: s.batch, channels: s.channels, height: (s.depth ?? 1) * s.height, width: s.width), data: t.data)
    }

    public func run(directory: String, resume: Bool, report: (TrainingEvent) throws -> Void) throws {
        try BinaryFile.makeFolders(directory)
        var state = TrainingState(epochsDone: 0, optimizerStep: 0, bestDice: -1, epochsWithoutImprovement: 0, records: [], momentCounts: [])
        if resume, let saved = try TrainingFiles.resume(directory, autograd: autograd, optimizer: optimizer) { state = saved }
        let batches = batchesPerEpoch, size = options.batchSize
        let schedule = LearningRateSchedule(base: options.learningRate, shape: options.schedule, warmupSteps: options.warmupEpochs * batches,
                                            totalSteps: options.epochs * batches)
        var step = state.optimizerStep
        for epoch in state.epochsDone..<options.epochs {
            let start = Date()
            var lossSum = 0.0
            // The next batch is drawn on a background thread while this one trains; a draw depends only on
            // (seed, epoch, index), so prefetching never changes the result.
            let prefetch = DispatchQueue(label: "segrun.patches")
            var prepared = draw(epoch: epoch, batch: 0)
            for b in 0..<batches {
                let (x, target) = prepared
                let group = DispatchGroup(), upcoming = PrefetchSlot()
                if b + 1 < batches { prefetch.async(group: group) { upcoming.batch = self.draw(epoch: epoch, batch: b + 1) } }
                defer {
                    group.wait()
                    if let next = upcoming.batch { prepared = next }
                }
                let logits = try autograd.forward([x])
                autograd.zeroGradients()
                var gradients: [Tensor?] = []
                var batchLoss = 0.0
                for (head, share) in zip(logits, DeepSupervision.shares(autograd.graph.outputs)) {
                    let (l, g) = loss.evaluate(PatchTrainer.flattened(head), target)
                    batchLoss += share.of(l)
                    gradients.append(share.of(Tensor(shape: head.shape, data: g.data)))
                }
                try autograd.backward(gradients)
                optimizer.update(autograd, learningRate: schedule.rate(at: step))
                step += 1
                lossSum += batchLoss
                try report(.step(epoch: epoch, batch: b + 1, batches: batches, loss: lossSum / Double(b + 1),
                                 imagesPerSecond: Double((b + 1) * size) / Date().timeIntervalSince(start)))
            }
            let trainSeconds = Date().timeIntervalSince(start)
            let (validationLoss, scores) = try validate()
            var record = EpochRecord(epoch: epoch + 1, trainLoss: lossSum / Double(max(1, batches)), validationLoss: validationLoss,
                                     validationDice: scores.pooledDice, validationIoU: scores.pooledIoU,
                                     learningRate: Double(schedule.rate(at: max(0, step - 1))), seconds: Date().timeIntervalSince(start),
                                     imagesPerSecond: Double(batches * size) / trainSeconds)
            record.validationPresentDice = scores.presentDice
            record.validationEmptyAsOneDice = scores.emptyAsOneDice
            record.validationClassDice = scores.perClass.map { $0.pooledDice ?? -1 }
            record.validationClassPresentDice = scores.perClass.map { $0.presentDice ?? -1 }
            state.records.append(record)
            state.epochsDone = epoch + 1
            state.optimizerStep = step
            let improved = scores.pooledDice > state.bestDice
            if improved { state.bestDice = scores.pooledDice; state.epochsWithoutImprovement = 0 } else { state.epochsWithoutImprovement += 1 }
            model = try TrainingFiles.checkpoint(directory, model: model, graph: autograd.graph, optimizer: optimizer, state: state, improved: improved,
                                                 classNames: model.classes > 1 ? Array(data.classNames.dropFirst()) : [])
            try report(.epochDone(record, improved: improved))
            if let patience = options.patience, state.epochsWithoutImprovement >= patience {
                try report(.stoppedEarly(epoch: epoch + 1))
                break
            }
        }
    }

    /// The loss on the fixed validation patches (BatchNorm on running statistics) and the scores of every
    /// validation block segmented whole by sliding windows of the patch size.
    public func validate() throws -> (loss: Double, scores: SegmentationScores) {
        var scores = SegmentationScores(modelClasses: model.classes)
        if data.validation.isEmpty { return (0, scores) }
        var lossSum = 0.0, chunks = 0
        var k = 0
        while k < validationPatches.count {
            let part = Array(validationPatches[k..<min(validationPatches.count, k + options.batchSize)])
            k += options.batchSize
            let (x, target) = batch(part)
            let logits = try autograd.forward([x], training: false)
            lossSum += loss.evaluate(PatchTrainer.flattened(logits[logits.count - 1]), target).loss
            chunks += 1
        }
        var current = model
        current.graph = autograd.graph
        let segmenter = try Segmenter(current, threads: options.threads)
        for block in data.validation {
            let (labels, truth) = try PatchTrainer.segment(block, of: data, with: segmenter, patch: patch, mean: mean, std: std)
            scores.add(predicted: labels[...], truth: truth[...])
        }
        return (lossSum / Double(max(1, chunks)), scores)
    }

    /// The labels `segmenter` gives block `block` by Gaussian sliding windows of `patch`, and its true labels.
    public static func segment(_ block: VolumePatchData.Block, of data: VolumePatchData, with segmenter: Segmenter, patch: [Int],
                               mean: [Float], std: [Float], mirror: Bool = false) throws -> (predicted: [UInt8], truth: [UInt8]) {
        let c = data.cases[block.caseIndex], plane = c.size[0] * c.size[1], volume = plane * c.size[2], z = block.z
        var x = Tensor(zeros: TensorShape(batch: 1, channels: c.channels, depth: z.count, height: c.size[1], width: c.size[0]))
        for ch in 0..<c.channels {
            let m = ch < mean.count ? mean[ch] : 0, s = ch < std.count ? std[ch] : 1
            for v in 0..<(z.count * plane) { x.data[ch * z.count * plane + v] = (c.image[ch * volume + z.lowerBound * plane + v] - m) / s }
        }
        let p = try segmenter.volumeProbabilities(x, windowing: VolumeWindowing(window: patch, mirror: mirror))
        return (segmenter.labels(p), Array(c.labels[(z.lowerBound * plane)..<(z.upperBound * plane)]))
    }
}
