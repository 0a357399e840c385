import ArgumentParser
import Foundation
import Engine
import Train
import Kernels
import Volumes
import Cluster

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on a folder dataset (images/ + masks/), writing best and last model files.",
        discussion: HelpText.discussion("""
            The run folder gets last.segrun, best.segrun (by validation pooled Dice), state.bin (optimizer state
            for --resume), log.jsonl (one line per epoch, with each class's pooled Dice), curves.svg and
            overlays-eNNN.png grids of validation images (image, truth, prediction), and at the end report.html:
            the scores per class, the curves, the latest grid and, on volumes, a montage of each validation case
            (truth and prediction through its centre, with Dice and HD95 in mm). Every file is written atomically.

            The defaults learn small structures that most images lack (docs/TRAINING.md has the runs):
            cross-entropy (or BCE) plus soft Dice summed over the batch without the background, multi-class
            heads that start at the class frequencies, light augmentation, Adam at 1e-3 with a cosine decay.
            Each epoch prints the pooled validation Dice (per class for several classes) and names any class
            that is never predicted.

            Examples:
              segrun train --data ../shared/data/brain-structures --preset unet-xs --size 128 --epochs 40 --val stripes:0.2:5 --out runs/structures
              segrun train --data lesions --preset unet-xs --size 128 --epochs 10 --out runs/lesions --tensorboard runs/tb
              segrun train --data ../shared/data/brain-mask --preset unet-s --size 128 --epochs 20 --out runs/brain
              segrun train --data ISIC-2017/train --val ISIC-2017/val --preset unet-s --size 128 --out runs/isic
              segrun train --data ../shared/data/brain-mask --preset unet-s --out runs/brain --resume

            A 3D preset (unet3d-xs, unet3d-s) trains on patches of a volume dataset (images/ + masks/ or
            nnU-Net's imagesTr/ + labelsTr/), every case resampled to the planned spacing and held in memory:
            --patch DxHxW, --patches-per-epoch, --batch; a third of the patches centred on foreground; 3D
            augmentation (rotation, scaling, mirroring on every axis, brightness, contrast, gamma, noise, blur;
            --augment off disables it). Validation (--val cases:F, or slab:A:B to hold out those z slices of
            every case) segments each held-out block whole by Gaussian sliding windows of the patch.

              segrun train --data runs/brain-volume --preset unet3d-s --patch 64 --val slab:0.35:0.65 --epochs 20 --out runs/brain3d

            Under mpirun (docs/SCALING.md) N processes train one model: --batch is the global batch, split
            over the ranks; loss and BatchNorm use the global batch; gradients are summed in rank order (the
            same bits for a given N); only rank 0 prints and writes. MPI is loaded at run time when present.

              mpirun -np 4 segrun train --data lesions --preset unet-s --size 128 --batch 16 --out runs/ddp
              srun --mpi=pmix segrun train --data /shared/lesions --preset unet-s --batch 32 --out /shared/runs/ddp
            """))

    @Option(help: "Dataset folder with images/ and masks/ (and optionally dataset.json).")
    var data: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Training size, H or HxW (images are resized; a multiple of the model's input multiple).")
    var size: String = "128"

    @Option(help: "Epochs.")
    var epochs: Int = 20

    @Option(help: "Batch size.")
    var batch: Int = 4

    @Option(help: "Learning rate.")
    var lr: Float = 1e-3

    @Option(help: "Loss: bce-dice (binary default), bce, wbce, dice, dice-squared, focal, tversky, ce, ce-dice (multi-class default).")
    var loss: String?

    @Option(help: "Optimizer: adam, adamw, sgd, nesterov.")
    var optimizer: String = "adam"

    @Option(help: "Weight decay.")
    var weightDecay: Float = 0

    @Option(help: "Learning-rate schedule: constant, cosine, poly, step.")
    var schedule: String = "cosine"

    @Option(help: "Warm-up epochs.")
    var warmup: Int = 0

    @Option(help: "Augmentation: light (default: left-right flips, scale 1±0.1, rotation ±10°, shift ±5%, mild intensity), flips (left-right only), strong (both flips, quarter turns, scale 1±0.15, ±15°, ±8%, intensity; 'on' before), elastic (strong plus elastic deformation) or off. 3D models train with nnU-Net's augmentation for any of these but off, and elastic adds its elastic deformation.")
    var augment: String = "light"

    @Option(help: "Soft Dice of the Dice losses: batch (default: sums over the whole batch, foreground classes present in the batch's truth), batch-all (every foreground class) or image (per image, with the background for multi-class).")
    var dice: String = "batch"

    @Option(help: "Output head biases at the start: auto (default: prior for multi-class models, random for binary ones), prior (the training masks' class frequencies) or random.")
    var headBias: String = "auto"

    @Option(help: "Validation: ends:F (F/2 from each end of the sorted names), stripes:F:K (K evenly spaced runs of the sorted names, their neighbours kept out of training), random:F, cases:F (whole volumes), list:FILE, or a separate dataset folder (DIR with images/ and masks/: every --data image trains). Default: ends:0.2 for images, cases:0.2 for several volumes, stripes:0.2:5 for one.")
    var val: String?

    @Option(help: "Stop after this many epochs without a better validation pooled Dice.")
    var patience: Int?

    @Option(help: "2.5D input: stack this many neighbouring slices (odd; name order) as channels.")
    var slices: Int = 1

    @Option(help: "Volumes: the slicing axis, x, y or z (default: the coarsest of the planned spacing, z on a tie).")
    var axis: String?

    @Option(help: "Volumes: image resampling to the planned spacing, linear or cubic (recorded; predict follows it).")
    var interpolation = "linear"

    @Option(help: "Volumes: label resampling, nearest or linear (on one-hot, then the label of largest weight; recorded, and predict maps its labels back the same way).")
    var labelInterpolation = "nearest"

    @Option(help: "Write overlays-eNNN.png (validation image, truth, prediction) every N epochs and at the end; 0 never.")
    var overlayEvery: Int = 5

    @Option(help: "Also write TensorBoard event files to this folder: losses, Dice per class, learning rate, speed and the validation overlays, each epoch (tensorboard --logdir DIR).")
    var tensorboard: String?

    @Option(help: "Convolutions of the forward and input-gradient passes: auto (default: Winograd F4 on layers of 128+ channels, F2 below; gradients within 1e-4 of PyTorch's), winograd-f4 (about 15% faster, entries within about 1e-3), winograd-f2 or igemm (within 1e-5, slower).")
    var conv: String?

    @Option(help: "Threads (default: all cores; under mpirun, the cores shared among the ranks on this machine).")
    var threads: Int?

    @Option(help: "3D models: the training patch, DxHxW or one extent for a cube (z, y, x at the planned spacing; multiples of the model's input multiple). Default: 64 each, capped by the data.")
    var patch: String?

    @Option(help: "3D models: patches per epoch (batches of --batch; every third centred on a foreground voxel).")
    var patchesPerEpoch: Int = 200

    @Option(help: "Run folder.")
    var out: String

    @Flag(help: "Continue the run in --out exactly where it stopped.")
    var resume = false

    func validate() throws {
        if let threads, !(1...ParallelFor.maxThreads).contains(threads) { throw ValidationError("--threads takes 1 to \(ParallelFor.maxThreads)") }
        guard let (h, w) = parseSize(size) else { throw ValidationError("--size takes H or HxW, each side 1 to \(maxSide)") }
        if h < 16 || w < 16 { throw ValidationError("--size must be at least 16") }
        if epochs < 1 || batch < 1 { throw ValidationError("--epochs and --batch must be at least 1") }
        if ImageInterpolation(rawValue: interpolation) == nil { throw ValidationError("--interpolation takes linear or cubic") }
        if LabelInterpolation(rawValue: labelInterpolation) == nil { throw ValidationError("--label-interpolation takes nearest or linear") }
        if Augmentation.named(augment) == nil { throw ValidationError("--augment takes \(Augmentation.names.joined(separator: ", "))") }
        if !["batch", "image", "batch-all"].contains(dice) { throw ValidationError("--dice takes batch, batch-all or image") }
        if HeadBiasStart(rawValue: headBias) == nil { throw ValidationError("--head-bias takes auto, prior or random") }
        if let conv, TrainingConvolutions(name: conv) == nil { throw ValidationError("--conv takes \(TrainingConvolutions.names.joined(separator: ", "))") }
        if modelOptions.preset == nil { throw ValidationError("--preset is required (e.g. unet-s)") }
        if let axis, SliceAxis(rawValue: axis) == nil { throw ValidationError("--axis takes x, y or z") }
    }

    /// The options 2D and 3D training share: epochs, batch, rate, loss (with the --dice form for the defaults),
    /// head biases, weight decay, optimizer, schedule (`step` counts `batchesPerEpoch`), warm-up, seed,
    /// convolutions, patience.
    func trainingOptions(binary: Bool, batchesPerEpoch: Int) throws -> TrainingOptions {
        var training = TrainingOptions()
        training.epochs = epochs
        training.batchSize = batch
        training.learningRate = lr
        training.loss = try parsedLoss()
        if training.loss == nil && dice != "batch" {
            let form: DiceForm = dice == "image" ? .perImage : DiceForm(batch: true, background: false)
            training.loss = binary ? .bceDice(bceWeight: 1, diceWeight: 1, form: form) : .crossEntropyDice(ceWeight: 1, diceWeight: 1, form: form)
        }
        training.headBias = HeadBiasStart(rawValue: headBias)!
        training.weightDecay = weightDecay
        switch optimizer {
        case "adam": training.optimizer = .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        case "adamw": training.optimizer = .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        case "sgd": training.optimizer = .sgd(momentum: 0.9, nesterov: false)
        case "nesterov": training.optimizer = .sgd(momentum: 0.9, nesterov: true)
        default: throw CLIError("unknown optimizer '\(optimizer)'")
        }
        switch schedule {
        case "constant": training.schedule = .constant
        case "cosine": training.schedule = .cosine(minimum: 0)
        case "poly": training.schedule = .poly(power: 0.9)
        case "step": training.schedule = .step(every: max(1, epochs / 3) * batchesPerEpoch, gamma: 0.1)
        default: throw CLIError("unknown schedule '\(schedule)'")
        }
        training.warmupEpochs = warmup
        training.seed = modelOptions.seed
        if let conv { training.convolutions = TrainingConvolutions(name: conv)! }
        training.patience = patience
        return training
    }

    func parsedLoss() throws -> Loss? {
        let form: DiceForm = dice == "image" ? .perImage : (dice == "batch-all" ? DiceForm(batch: true, background: false) : .batchForeground)
        switch loss {
        case nil: return nil
        case "bce-dice": return .bceDice(bceWeight: 1, diceWeight: 1, form: form)
        case "bce": return .bce(positiveWeight: 1)
        case "wbce": return .foregroundWeightedBCE
        case "dice": return .dice(squared: false, form: form)
        case "dice-squared": return .dice(squared: true, form: form)
        case "focal": return .focal(alpha: 0.25, gamma: 2)
        case "tversky": return .tversky(alpha: 0.3, beta: 0.7)
        case "ce": return .crossEntropy
        case "ce-dice": return .crossEntropyDice(ceWeight: 1, diceWeight: 1, form: form)
        default: throw CLIError("unknown loss '\(loss!)'")
        }
    }

    func run() throws {
        // Under mpirun with several ranks: data-parallel training (docs/SCALING.md); only rank 0 prints and writes.
        let environment = ProcessInfo.processInfo.environment
        var mpi: MPICommunicator? = nil
        if MPICommunicator.launchedWithSeveralRanks(environment) {
            do { mpi = try MPICommunicator(environment: environment) } catch { throw CLIError("\(error)") }
        }
        defer { mpi?.finish() }
        do { try train(mpi: mpi, environment: environment) } catch {
            // One rank's error ends the job: the others would wait in their next collective forever.
            if let mpi {
                FileHandle.standardError.write("segrun train (rank \(mpi.rank) of \(mpi.size)): error: \(error)\n".data(using: .utf8)!)
                mpi.abort(code: 1)
            }
            throw error
        }
    }

    func train(mpi: MPICommunicator?, environment: [String: String]) throws {
        if (try? ArchitecturePreset.named(modelOptions.preset!).config.spatialRank) == 3 {
            if mpi != nil { throw CLIError("3D models train in one process for now; run without mpirun") }
            return try trainPatches()
        }
        let (h, w) = parseSize(size)!
        if let mpi, mpi.rank != 0 {
            ProgressBar.silenced = true
            _ = freopen("/dev/null", "w", stdout)
        }
        if let mpi, batch < mpi.size { throw CLIError("--batch \(batch) is the global batch, split over \(mpi.size) processes: give at least one image per process") }
        let stderr = FileHandle.standardError
        if let mpi, mpi.rank == 0 {
            print("data-parallel: \(mpi.size) processes (\(mpi.library)); global batch \(batch), \(batch / mpi.size)-\((batch + mpi.size - 1) / mpi.size) images per process per step")
        }
        do { try SegmentationDataset.checkFits(data, height: h, width: w) } catch { throw CLIError("\(error)") }
        if mpi?.rank ?? 0 == 0 { stderr.write("segrun train: loading \(data)\n".data(using: .utf8)!) }
        var loading: ProgressBar? = nil
        let loaded: SegmentationDataset
        do {
            loaded = try SegmentationDataset.loadFolder(data, height: h, width: w, axis: axis.flatMap(SliceAxis.init(rawValue:)),
                                                        interpolation: (ImageInterpolation(rawValue: interpolation)!, LabelInterpolation(rawValue: labelInterpolation)!),
                                                        multilabel: modelOptions.multilabel) { done, total in
                if loading == nil { loading = ProgressBar(total: total, label: "load") }
                loading?.update(done)
            }
        } catch { throw CLIError("\(error)") }
        var dataset = try loaded.stackingNeighbours(slices)
        let volumes = VolumeDataset.holdsVolumes(data)
        let cases = Set(dataset.samples.compactMap(\.group)).count
        // Default split: a tenth from each end of the sorted names for images; whole cases for several volumes;
        // five runs of slices for one volume.
        let val = self.val ?? (volumes ? (cases > 1 ? "cases:0.2" : "stripes:0.2:5") : "ends:0.2")
        let trainIndices: [Int], validationIndices: [Int]
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: val, isDirectory: &isDirectory), isDirectory.boolValue {
            stderr.write("segrun train: loading the validation folder \(val)\n".data(using: .utf8)!)
            do {
                let folder = try SegmentationDataset.loadFolder(val, height: h, width: w, channels: loaded.channels,
                                                                multilabel: modelOptions.multilabel).stackingNeighbours(slices)
                (dataset, trainIndices, validationIndices) = try dataset.appendingValidation(folder)
            } catch { throw CLIError("\(error)") }
        } else {
            let split = try ValidationSplit.parse(val, seed: modelOptions.seed)
            (trainIndices, validationIndices) = try split.split(dataset.samples)
        }
        var options = modelOptions
        options.inChannels = dataset.channels
        options.classes = dataset.modelClasses
        var model = try options.presetModel(modelOptions.preset!)
        if slices > 1 { model.metadata[MetadataKey.inputSlices] = .int(Int64(slices)) }
        if let plan = dataset.volumePlan {
            model.metadata[MetadataKey.inputVolumeSpacing] = .floats(plan.target.map(Float.init))
            model.metadata[MetadataKey.inputVolumeAxis] = .string(plan.axis.rawValue)
            model.metadata[MetadataKey.inputVolumeInterpolation] = .string(plan.imageInterpolation.rawValue)
            model.metadata[MetadataKey.inputVolumeLabelInterpolation] = .string(plan.labelInterpolation.rawValue)
            if let orientation = plan.orientation { model.metadata[MetadataKey.inputVolumeOrientation] = .string(orientation.description) }
        }
        if let windows = dataset.volumeIntensity {
            model.metadata[MetadataKey.inputVolumeIntensity] = .string(windows.map(\.description).joined(separator: ","))
        }
        model.metadata[MetadataKey.trainValidationSplit] = .string(isDirectory.boolValue ? "folder:" + val : val)
        model.metadata[MetadataKey.trainSeed] = .int(Int64(modelOptions.seed))
        if h % model.inputMultiple != 0 || w % model.inputMultiple != 0 {
            throw CLIError("--size \(size) is not a multiple of the model's input multiple \(model.inputMultiple)")
        }
        var training = try trainingOptions(binary: dataset.modelClasses == 1 || dataset.multilabel, batchesPerEpoch: (trainIndices.count + batch - 1) / batch)
        training.augmentation = Augmentation.named(augment)!
        if augment == "elastic" { training.augmentation.elasticPixels = Float(min(h, w)) / 16 }
        training.threads = threads ?? max(1, ParallelFor.coreCount / (mpi == nil ? 1 : MPICommunicator.localSize(environment) ?? 1))
        if let mpi {
            training.dataParallel = DataParallel(rank: mpi.rank, size: mpi.size, sumFloats: { mpi.sumInRankOrder(&$0) },
                                                 sumDoubles: { mpi.sumInRankOrder($0) }, broadcastFloats: { mpi.broadcast(&$0) })
        }
        training.overlayEvery = max(0, overlayEvery)
        print("data: \(dataset.name), \(dataset.samples.count) images (\(trainIndices.count) train, \(validationIndices.count) validation) at \(h)x\(w), "
              + "\(dataset.channels) channel(s), classes: \(dataset.classNames.joined(separator: ", "))")
        print("model: \(modelOptions.preset!), \(Format.count(Double(model.graph.parameterCount))) parameters; run folder \(out)")
        let trainer = try Trainer(model: model, data: dataset, train: trainIndices, validation: validationIndices, options: training)
        let board = trainer.writesFiles ? try tensorboard.map { try TensorBoardWriter(directory: $0) } : nil
        if let board { print("TensorBoard events: \(board.path)") }
        var bar: ProgressBar? = nil
        try trainer.run(directory: out, resume: resume) { event in
            switch event {
            case .step(let epoch, let b, let batches, let loss, let ips):
                if b == 1 { bar = ProgressBar(total: batches, label: "epoch \(epoch + 1)/\(epochs)") }
                bar?.update(b, note: String(format: "loss %.4f  %.1f img/s", loss, ips))
            case .epochDone(let r, let improved):
                print(String(format: "epoch %3d  train loss %.4f  val loss %.4f  val pooled Dice %.4f  IoU %.4f  (where present %.4f)  lr %.2e  %.1f img/s  %.1f s%@",
                             r.epoch, r.trainLoss, r.validationLoss, r.validationDice, r.validationIoU, r.validationPresentDice, r.learningRate,
                             r.imagesPerSecond, r.seconds, improved ? "  *best" : ""))
                if r.validationClassDice.count > 1 {
                    let names = trainer.data.classNames
                    print("           per class: " + r.validationClassDice.enumerated().map { i, d in
                        (i + 1 < names.count ? names[i + 1] : "class\(i + 1)") + " " + (d < 0 ? "-" : String(format: "%.3f", d))
                    }.joined(separator: "  "))
                }
                if !r.neverPredicted.isEmpty { print("           never predicted: " + r.neverPredicted.joined(separator: ", ")) }
                if let board { try TrainCommand.logEpoch(r, trainer: trainer, to: board) }
            case .stoppedEarly(let epoch):
                print("early stop after epoch \(epoch): no better validation pooled Dice for \(patience ?? 0) epochs")
            }
        }
        if !trainer.writesFiles { return }
        // The report: validation cases of a volume dataset get montages.
        var validationCases: [VolumeCase] = []
        if volumes {
            let held = Set(validationIndices.compactMap { trainer.data.samples[$0].group })
            let roots = [data] + (isDirectory.boolValue && VolumeDataset.holdsVolumes(val) ? [val] : [])
            validationCases = roots.flatMap { (try? VolumeDataset.scan($0)) ?? [] }.filter { held.contains($0.name) && $0.mask != nil }
        }
        let log = (try? String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)) ?? ""
        let records = log.split(separator: "\n").compactMap { try? JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }
        let names = trainer.data.classNames
        let report = TrainReport(title: "segrun train: \((out as NSString).lastPathComponent)",
                                 settings: ["data \(data)", "\(modelOptions.preset!) at \(h)x\(w)", "\(epochs) epochs", "validation \(val)"],
                                 records: records, classNames: dataset.modelClasses == 1 ? [names.last ?? "foreground"] : Array(names.dropFirst()))
        var montages: ProgressBar? = nil
        try report.write(directory: out, model: try loadModelFile(FileManager.default.fileExists(atPath: out + "/best.segrun") ? out + "/best.segrun" : out + "/last.segrun"), cases: validationCases) { done, total in
            if montages == nil { montages = ProgressBar(total: total, label: "report: validation cases") }
            montages?.update(done)
        }
        print("wrote \(out)/best.segrun, last.segrun, log.jsonl, curves.svg, report.html")
    }

    /// One epoch's scalars and validation overlays as a TensorBoard event (step = epoch).
    static func logEpoch(_ r: EpochRecord, trainer: Trainer, to board: TensorBoardWriter) throws {
        var values: [(tag: String, value: TensorBoardWriter.Value)] = [
            ("loss/train", .scalar(Float(r.trainLoss))), ("loss/validation", .scalar(Float(r.validationLoss))),
            ("dice/pooled", .scalar(Float(r.validationDice))), ("dice/where_present", .scalar(Float(r.validationPresentDice))),
            ("iou/pooled", .scalar(Float(r.validationIoU))), ("learning_rate", .scalar(Float(r.learningRate))),
            ("speed/images_per_second", .scalar(Float(r.imagesPerSecond))),
        ]
        let names = trainer.data.classNames
        if r.validationClassDice.count > 1 {
            for (i, d) in r.validationClassDice.enumerated() where d >= 0 {
                values.append(("dice_per_class/" + (i + 1 < names.count ? names[i + 1] : "class\(i + 1)"), .scalar(Float(d))))
            }
        }
        if let grid = try ValidationGrid.png(trainer) {
            values.append(("validation/overlays", .png(grid.bytes, width: grid.width, height: grid.height)))
        }
        try board.add(step: r.epoch, values)
    }
}
