import Foundation
#if canImport(CMalloc)
import CMalloc
#endif
import Kernels
import Engine
import ImageIO

/// The batch a prefetch thread prepares; read only after the thread is joined.
final class PrefetchSlot: @unchecked Sendable {
    var batch: (Tensor, Target)?
}

/// Hyper-parameters of a training run.
public struct TrainingOptions {
    public var epochs = 20
    public var batchSize = 4
    public var learningRate: Float = 1e-3
    public var loss: Loss? = nil
    public var optimizer: OptimizerKind = .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    public var weightDecay: Float = 0
    public var clipNorm: Float? = nil
    public var schedule: LearningRateSchedule.Shape = .cosine(minimum: 0)
    public var warmupEpochs = 0
    public var augmentation: Augmentation = Augmentation()
    public var seed: UInt64 = 0
    public var threads = ParallelFor.coreCount
    /// Forward and input-gradient convolutions (`TrainingConvolutions`): by default F4 on deep layers and F2
    /// on shallow ones, which matches every gradient entry of PyTorch's within 1e-4.
    public var convolutions: TrainingConvolutions = .auto
    /// Write `overlays-eNNN.png` (validation images: image, truth, prediction) every this many epochs and
    /// after the last one (0: never).
    public var overlayEvery = 5
    /// Stop when validation Dice has not improved for this many epochs (nil: never).
    public var patience: Int? = nil
    /// How the output heads' biases start (`PriorHeadBias`): by default at the class frequencies for a
    /// multi-class (softmax) head, as initialized for a binary (sigmoid) one.
    public var headBias: HeadBiasStart = .auto
    /// Several processes training one model (`DataParallel`); nil for one process.
    public var dataParallel: DataParallel? = nil

    public init() {}
}

/// Progress the trainer reports (the CLI draws bars from these).
public enum TrainingEvent {
    case step(epoch: Int, batch: Int, batches: Int, loss: Double, imagesPerSecond: Double)
    case epochDone(EpochRecord, improved: Bool)
    case stoppedEarly(epoch: Int)
}

/// The training loop: seeded shuffling and augmentation, forward and backward through `Autograd`, the
/// optimizer and schedule, validation Dice and IoU each epoch, and atomic checkpoints (`last.segrun`,
/// `best.segrun`, `state.bin`, `log.jsonl`, `curves.svg`) so an interrupted run resumes exactly.
public final class Trainer {
    public let options: TrainingOptions
    public let data: SegmentationDataset
    public let trainIndices: [Int]
    public let validationIndices: [Int]
    public private(set) var model: Model
    let autograd: Autograd
    let optimizer: Optimizer
    let loss: Loss
    /// UNet 3+'s classification-guided module, when the model has it.
    let presenceLoss: PresenceLoss?
    let mean: [Float], std: [Float]

    public init(model: Model, data: SegmentationDataset, train: [Int], validation: [Int], options: TrainingOptions) throws {
        if train.isEmpty { throw DatasetError.invalid("no training images") }
        self.options = options
        self.data = data
        trainIndices = train
        validationIndices = validation
        var model = model
        if data.multilabel != model.isMultilabel || (data.multilabel && data.modelClasses != model.classes) {
            throw DatasetError.invalid(data.multilabel
                ? "the data has \(data.modelClasses) overlapping labels; the model needs as many independent outputs (segrun train --multilabel makes it)"
                : "the model is multi-label; its data must be loaded as multi-label too (--multilabel)")
        }
        if data.multilabel && options.headBias == .prior {
            throw DatasetError.invalid("--head-bias prior sets softmax and binary heads; a multi-label model starts from random (sigmoid) heads")
        }
        (mean, std) = data.statistics(train)
        model.metadata[MetadataKey.inputMean] = .floats(mean)
        model.metadata[MetadataKey.inputStd] = .floats(std)
        model.metadata[MetadataKey.classNames] = .strings(data.classNames)
        model.metadata[MetadataKey.trainDataset] = .string(data.name)
        model.metadata[MetadataKey.inputSize] = .floats([Float(data.height), Float(data.width)])
        if options.headBias == .prior || (options.headBias == .auto && model.classes > 1 && !model.isMultilabel) {
            PriorHeadBias.apply(to: &model.graph, frequencies: PriorHeadBias.frequencies(data, train))
        }
        self.model = model
        Trainer.keepFreedMemory
        autograd = try Autograd(model.graph, threads: options.threads, fuseActivations: true)
        autograd.convolutions = options.convolutions
        if let parallel = options.dataParallel {
            // Rank 0's initial weights everywhere (they are seeded alike, but a rank must never start apart).
            for i in 0..<model.graph.parameters.count {
                var values = model.graph.parameters[i].floats
                parallel.broadcastFloats(&values)
                autograd.setParameter(i, values)
            }
            autograd.batchNormSynchronizer = parallel.sumDoubles
        }
        optimizer = Optimizer(options.optimizer, weightDecay: options.weightDecay, clipNorm: options.clipNorm)
        loss = options.loss ?? Loss.defaultLoss(classes: model.isMultilabel ? 1 : model.classes)
        if model.isMultilabel && !loss.isBinary {
            throw DatasetError.invalid("a multi-label model's outputs are independent sigmoids: use a binary loss (bce-dice, the default), not cross-entropy")
        }
        if let problem = loss.problem(classes: model.classes, multilabel: model.isMultilabel) { throw DatasetError.invalid(problem) }
        presenceLoss = PresenceLoss(model.graph)
    }

    /// A training step frees and reallocates the same large arrays (activations, gradients, workspaces)
    /// every step. glibc serves blocks over 128 KiB with mmap and unmaps them on free, so each step
    /// page-faulted and the kernel cleared every page again (15% of a unet-s step at 256x256 in
    /// `perf record`). Serving them from the heap, and never trimming it, makes the reuse free.
    static let keepFreedMemory: Void = {
        #if canImport(CMalloc)
        _ = mallopt(M_MMAP_THRESHOLD, 1 << 30)
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
    }()

    /// The name of foreground class `id` (a binary model's one class is its dataset's foreground name).
    public func className(_ id: UInt8) -> String {
        if model.classes == 1 { return data.classNames.last ?? "foreground" }
        return Int(id) < data.classNames.count ? data.classNames[Int(id)] : "class\(id)"
    }

    /// Batches per epoch; with several processes a last batch smaller than the number of processes is skipped.
    var batchesPerEpoch: Int {
        let full = trainIndices.count / options.batchSize, rest = trainIndices.count % options.batchSize
        return full + (rest > 0 && rest >= (options.dataParallel?.size ?? 1) ? 1 : 0)
    }

    /// Whether this process writes checkpoints, logs and pictures (rank 0 of a data-parallel run).
    public var writesFiles: Bool { options.dataParallel?.isMain ?? true }

    func schedule() -> LearningRateSchedule {
        LearningRateSchedule(base: options.learningRate, shape: options.schedule, warmupSteps: options.warmupEpochs * batchesPerEpoch,
                             totalSteps: options.epochs * batchesPerEpoch)
    }

    /// A normalized image batch and its target from sample indices (augmented when `epoch` is given).
    func batch(_ indices: [Int], epoch: Int?) -> (Tensor, Target) {
        let c = data.channels, h = data.height, w = data.width, hw = h * w
        var x = Tensor(zeros: TensorShape(batch: indices.count, channels: c, height: h, width: w))
        var ids = [Int32](repeating: 0, count: indices.count * hw)
        for (n, index) in indices.enumerated() {
            var s = data.samples[index]
            if let epoch { s = options.augmentation.apply(s, channels: c, height: h, width: w, seed: options.seed, epoch: epoch, index: index) }
            for ch in 0..<c { for p in 0..<hw { x.data[(n * c + ch) * hw + p] = (s.image[ch * hw + p] - mean[ch]) / std[ch] } }
            for p in 0..<hw { ids[n * hw + p] = Int32(s.mask[p]) }
        }
        if model.classes == 1 {
            return (x, .binary(Tensor(shape: TensorShape(batch: indices.count, channels: 1, height: h, width: w), data: ids.map { Float($0) })))
        }
        if model.isMultilabel {
            // Label bits to one 0/1 plane per label: each output is a binary problem of its own.
            let labels = model.classes
            var planes = Tensor(zeros: TensorShape(batch: indices.count, channels: labels, height: h, width: w))
            for n in 0..<indices.count {
                for c in 0..<labels {
                    for p in 0..<hw where ids[n * hw + p] & (1 << c) != 0 { planes.data[(n * labels + c) * hw + p] = 1 }
                }
            }
            return (x, .binary(planes))
        }
        return (x, .classes(ids, batch: indices.count, height: h, width: w))
    }

    func indices(_ order: [Int], _ b: Int) -> [Int] {
        Array(order[(b * options.batchSize)..<min(order.count, (b + 1) * options.batchSize)])
    }

    /// The epoch's training order: a seeded shuffle that depends only on (seed, epoch).
    func order(epoch: Int) -> [Int] {
        var order = trainIndices
        var rng = SeededGenerator(seed: options.seed &+ 0xE90C &* UInt64(epoch + 1))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// Runs (or resumes) training into `directory`.
    public func run(directory: String, resume: Bool, report: (TrainingEvent) throws -> Void) throws {
        try BinaryFile.makeFolders(directory)
        var state = TrainingState(epochsDone: 0, optimizerStep: 0, bestDice: -1, epochsWithoutImprovement: 0, records: [], momentCounts: [])
        if resume, let saved = try TrainingFiles.resume(directory, autograd: autograd, optimizer: optimizer) { state = saved }
        let schedule = self.schedule()
        var step = state.optimizerStep
        for epoch in state.epochsDone..<options.epochs {
            let start = Date()
            let order = self.order(epoch: epoch)
            var lossSum = 0.0
            var seen = 0
            // The next batch is read and augmented on a background thread while this one trains. Its content
            // depends only on (seed, epoch, indices), so prefetching never changes the result.
            let prefetch = DispatchQueue(label: "segrun.prefetch")
            // This process's part of each global batch (all of it in one process).
            let parallel = options.dataParallel
            func localIndices(_ b: Int) -> [Int] { parallel.map { $0.share(self.indices(order, b)) } ?? self.indices(order, b) }
            var prepared = batch(localIndices(0), epoch: epoch)
            for b in 0..<batchesPerEpoch {
                let indices = self.indices(order, b)
                let (x, target) = prepared
                let group = DispatchGroup()
                let upcoming = PrefetchSlot()
                if b + 1 < batchesPerEpoch {
                    let nextIndices = localIndices(b + 1)
                    prefetch.async(group: group) { upcoming.batch = self.batch(nextIndices, epoch: epoch) }
                }
                defer {
                    group.wait()
                    if let next = upcoming.batch { prepared = next }
                }
                let logits = try autograd.forward([x])
                autograd.zeroGradients()
                var outputGradients: [Tensor?] = []
                var batchLoss = 0.0
                for (head, share) in zip(logits, DeepSupervision.shares(autograd.graph.outputs)) {
                    let (l, g) = loss.evaluate(head, target, across: parallel?.processSum)
                    batchLoss += share.of(l)
                    outputGradients.append(share.of(g))
                }
                var innerGradients: [(node: Int, gradient: Tensor)] = []
                if let presenceLoss {
                    let (l, g) = presenceLoss.evaluate(autograd, target, across: parallel?.processSum)
                    batchLoss += l
                    innerGradients.append((presenceLoss.node, g))
                }
                try autograd.backward(outputGradients, nodeGradients: innerGradients)
                if let parallel { sumGradients(parallel) }
                optimizer.update(autograd, learningRate: schedule.rate(at: step))
                step += 1
                lossSum += batchLoss * Double(indices.count)
                seen += indices.count
                try report(.step(epoch: epoch, batch: b + 1, batches: batchesPerEpoch, loss: lossSum / Double(seen),
                             imagesPerSecond: Double(seen) / Date().timeIntervalSince(start)))
            }
            let trainSeconds = Date().timeIntervalSince(start)
            let (valLoss, scores) = try validate()
            var record = EpochRecord(epoch: epoch + 1, trainLoss: lossSum / Double(max(1, seen)), validationLoss: valLoss,
                                     validationDice: scores.pooledDice, validationIoU: scores.pooledIoU,
                                     learningRate: Double(schedule.rate(at: max(0, step - 1))),
                                     seconds: Date().timeIntervalSince(start), imagesPerSecond: Double(seen) / trainSeconds)
            record.validationPresentDice = scores.presentDice
            record.validationEmptyAsOneDice = scores.emptyAsOneDice
            record.validationClassDice = scores.perClass.map { $0.pooledDice ?? -1 }
            record.validationClassPresentDice = scores.perClass.map { $0.presentDice ?? -1 }
            record.neverPredicted = scores.neverPredicted.map { className(scores.classes[$0]) }
            state.records.append(record)
            state.epochsDone = epoch + 1
            state.optimizerStep = step
            let improved = scores.pooledDice > state.bestDice
            if improved { state.bestDice = scores.pooledDice; state.epochsWithoutImprovement = 0 } else { state.epochsWithoutImprovement += 1 }
            if writesFiles { try checkpoint(directory, state: state, improved: improved) }
            if writesFiles && options.overlayEvery > 0 && ((epoch + 1) % options.overlayEvery == 0 || epoch + 1 == options.epochs) {
                try ValidationGrid.write(self, to: directory + String(format: "/overlays-e%03d.png", epoch + 1))
            }
            try report(.epochDone(record, improved: improved))
            if let patience = options.patience, state.epochsWithoutImprovement >= patience {
                try report(.stoppedEarly(epoch: epoch + 1))
                break
            }
        }
    }

    /// Sums the learned parameters' gradients over the processes (one vector, one reduction per step).
    func sumGradients(_ parallel: DataParallel) {
        let learnable = autograd.learnableParameters
        autograd.updateGradients { gradients in
            var flat: [Float] = []
            flat.reserveCapacity(learnable.reduce(0) { $0 + gradients[$1].count })
            for i in learnable { flat += gradients[i] }
            parallel.sumFloats(&flat)
            var offset = 0
            for i in learnable {
                let n = gradients[i].count
                gradients[i].withUnsafeMutableBufferPointer { g in for j in 0..<n { g[j] = flat[offset + j] } }
                offset += n
            }
        }
    }

    /// Validation loss and scores over the validation images (BatchNorm on running statistics).
    public func validate() throws -> (loss: Double, scores: SegmentationScores) {
        var scores = SegmentationScores(modelClasses: model.classes, multilabel: model.isMultilabel)
        if validationIndices.isEmpty { return (0, scores) }
        var lossSum = 0.0
        let hw = data.height * data.width
        var chunk = 0
        while chunk < validationIndices.count {
            let indices = Array(validationIndices[chunk..<min(validationIndices.count, chunk + options.batchSize)])
            chunk += options.batchSize
            let (x, target) = batch(indices, epoch: nil)
            let all = try autograd.forward([x], training: false)
            // What inference scores: the outputs but the auxiliary ones, their probabilities averaged.
            let logits = DeepSupervision.inferenceOutputs(autograd.graph.outputs).map { all[$0] }
            var probabilities = TensorOps.probabilities(fromLogits: logits[0], multilabel: model.isMultilabel)
            for head in logits.dropFirst() {
                let p = TensorOps.probabilities(fromLogits: head, multilabel: model.isMultilabel)
                for i in 0..<p.data.count { probabilities.data[i] += p.data[i] }
            }
            if logits.count > 1 { for i in 0..<probabilities.data.count { probabilities.data[i] /= Float(logits.count) } }
            lossSum += loss.evaluate(logits[logits.count - 1], target).loss * Double(indices.count)
            let labels = TensorOps.labels(probabilities, of: model)
            for (n, index) in indices.enumerated() {
                scores.add(predicted: labels[(n * hw)..<((n + 1) * hw)], truth: data.samples[index].mask[0..<hw])
            }
        }
        return (lossSum / Double(validationIndices.count), scores)
    }

    /// Writes last (and best) model, the state and the log (`TrainingFiles`).
    func checkpoint(_ directory: String, state: TrainingState, improved: Bool) throws {
        model = try TrainingFiles.checkpoint(directory, model: model, graph: autograd.graph, optimizer: optimizer, state: state, improved: improved,
                                             classNames: model.classes > 1 ? Array(data.classNames.dropFirst()) : [])
    }
}
