import Foundation
import Engine
import Train
import Volumes

extension TrainCommand {
    /// `segrun train` with a 3D preset: patch training on a volume dataset (`PatchTrainer`).
    func trainPatches() throws {
        let stderr = FileHandle.standardError
        guard VolumeDataset.holdsVolumes(data) else { throw CLIError("\(data): a 3D model trains on volumes (images/ + masks/ or imagesTr/ + labelsTr/ with .nii.gz or .nrrd files)") }
        stderr.write("segrun train: loading \(data)\n".data(using: .utf8)!)
        var loading: ProgressBar? = nil
        var dataset: VolumePatchData
        do {
            dataset = try VolumePatchData.load(data, interpolation: (ImageInterpolation(rawValue: interpolation)!, LabelInterpolation(rawValue: labelInterpolation)!)) { done, total in
                if loading == nil { loading = ProgressBar(total: total, label: "load") }
                loading?.update(done)
            }
        } catch { throw CLIError("\(error)") }
        let val = self.val ?? (dataset.cases.count > 1 ? "cases:0.2" : "slab:0.4:0.6")
        do { try dataset.split(try VolumePatchData.Split.parse(val)) } catch { throw CLIError("\(error)") }
        var options = modelOptions
        options.inChannels = dataset.channels
        options.classes = dataset.modelClasses
        // The spacing in D, H, W order (z, y, x), and the median training case (its blocks' extents).
        let spacing = Array(dataset.plan.target.reversed())
        let preset: ArchitecturePreset
        do { preset = try ArchitecturePreset.named(modelOptions.preset!) } catch { throw CLIError("\(error)") }
        var model = try options.presetModel(modelOptions.preset!) { config in
            if preset.followsSpacing {
                let plan = NetworkPlan(spacing: spacing, depth: config.depth)
                (config.levelKernels, config.levelPools) = (plan.levelKernels, plan.levelPools)
            }
        }
        var extents: [Int]
        if let patch {
            let parts = patch.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 1 || parts.count == 3, parts.allSatisfy({ (1...1024).contains($0) }) else {
                throw CLIError("--patch takes DxHxW or one extent, each 1 to 1024, got '\(patch)'")
            }
            extents = parts.count == 1 ? [parts[0], parts[0], parts[0]] : parts
            // A patch the machine cannot train on is refused now, not by a failed allocation in the first step.
            let bytes: Int
            do { bytes = try NetworkPlan.trainingBytes(model.graph, channels: model.inputChannels, patch: extents, batch: batch) } catch { throw CLIError("\(error)") }
            let available = MemoryBudget.physicalBytes
            if available > 0 && bytes > available {
                throw CLIError("--patch \(patch): a training step of \(batch) patch(es) of \(extents.map(String.init).joined(separator: "x")) needs about \(bytes >> 20) MiB; "
                               + "this machine has \(available >> 20) MiB (without --patch, training takes the plan's patch for a 1 GiB step: segrun plan)")
            }
        } else {
            // The plan's patch: the median training block, shrunk until a step fits 1 GiB (`segrun plan`).
            extents = try TrainCommand.plannedPatch(model, dataset: dataset, spacing: spacing, batch: batch, budget: 1 << 30)
        }
        model.metadata[MetadataKey.trainValidationSplit] = .string(val)
        model.metadata[MetadataKey.trainSeed] = .int(Int64(modelOptions.seed))
        var training = try trainingOptions(binary: dataset.modelClasses == 1, batchesPerEpoch: max(1, patchesPerEpoch / batch))
        training.threads = threads ?? ParallelFor.coreCount
        // 3D models take nnU-Net's augmentation (PatchAugmentation) for every --augment but off; elastic adds
        // its elastic deformation.
        var augmentation = augment == "off" ? PatchAugmentation.none : PatchAugmentation()
        if augment == "elastic" { augmentation.elasticFraction = 1.0 / 16 }
        // Anisotropic data (one axis 2x or more coarser than the finest) rotates in-plane only.
        augmentation.inPlaneOnly = (dataset.plan.target.max() ?? 1) >= 2 * (dataset.plan.target.min() ?? 1)
        let trainer: PatchTrainer
        do {
            trainer = try PatchTrainer(model: model, data: dataset, patch: extents, patchesPerEpoch: patchesPerEpoch, augmentation: augmentation, options: training)
        } catch { throw CLIError("\(error)") }
        let target = dataset.plan.target.map { String(format: "%.2f", $0) }.joined(separator: " x ")
        print("data: \(dataset.name), \(dataset.cases.count) volume(s) at \(target) mm, \(dataset.channels) channel(s), classes: \(dataset.classNames.joined(separator: ", ")); "
              + "\(dataset.training.count) training block(s), \(dataset.validation.count) validation block(s) (\(val))")
        if preset.followsSpacing { print("topology for the spacing: " + TrainCommand.describeTopology(model)) }
        print("model: \(modelOptions.preset!), \(Format.count(Double(model.graph.parameterCount))) parameters; patches \(extents.map(String.init).joined(separator: "x")) (z, y, x), "
              + "\(patchesPerEpoch) per epoch in batches of \(batch); run folder \(out)")
        var bar: ProgressBar? = nil
        try trainer.run(directory: out, resume: resume) { event in
            switch event {
            case .step(let epoch, let b, let batches, let loss, let ips):
                if b == 1 { bar = ProgressBar(total: batches, label: "epoch \(epoch + 1)/\(epochs)") }
                bar?.update(b, note: String(format: "loss %.4f  %.2f patches/s", loss, ips))
            case .epochDone(let r, let improved):
                print(String(format: "epoch %3d  train loss %.4f  val loss %.4f  val pooled Dice %.4f  IoU %.4f  lr %.2e  %.2f patches/s  %.1f s%@",
                             r.epoch, r.trainLoss, r.validationLoss, r.validationDice, r.validationIoU, r.learningRate, r.imagesPerSecond, r.seconds,
                             improved ? "  *best" : ""))
                if r.validationClassDice.count > 1 {
                    let names = dataset.classNames
                    print("           per class: " + r.validationClassDice.enumerated().map { i, d in
                        (i + 1 < names.count ? names[i + 1] : "class\(i + 1)") + " " + (d < 0 ? "-" : String(format: "%.3f", d))
                    }.joined(separator: "  "))
                }
            case .stoppedEarly(let epoch):
                print("early stop after epoch \(epoch): no better validation pooled Dice for \(patience ?? 0) epochs")
            }
        }
        // The report: scores, curves and a three-view montage of each validation case (truth above, prediction below).
        let log = (try? String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)) ?? ""
        let records = log.split(separator: "\n").compactMap { try? JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }
        let held = Set(dataset.validation.map { dataset.cases[$0.caseIndex].name })
        let cases = ((try? VolumeDataset.scan(data)) ?? []).filter { held.contains($0.name) && $0.mask != nil }
        let report = TrainReport(title: "segrun train: \((out as NSString).lastPathComponent)",
                                 settings: ["data \(data)", "\(modelOptions.preset!), patches " + extents.map(String.init).joined(separator: "x"),
                                            "\(epochs) epochs of \(patchesPerEpoch) patches", "validation \(val)"],
                                 records: records, classNames: dataset.modelClasses == 1 ? [dataset.classNames.last ?? "foreground"] : Array(dataset.classNames.dropFirst()))
        var montages: ProgressBar? = nil
        try report.write(directory: out, model: try loadModelFile(FileManager.default.fileExists(atPath: out + "/best.segrun") ? out + "/best.segrun" : out + "/last.segrun"),
                         cases: cases) { done, total in
            if montages == nil { montages = ProgressBar(total: total, label: "report: validation cases") }
            montages?.update(done)
        }
        print("wrote \(out)/best.segrun, last.segrun, log.jsonl, curves.svg, report.html")
    }

    /// The training patch `NetworkPlan.patch` gives `model`'s architecture for the median training block.
    static func plannedPatch(_ model: Model, dataset: VolumePatchData, spacing: [Double], batch: Int, budget: Int) throws -> [Int] {
        func median(_ v: [Int]) -> Int { v.sorted()[v.count / 2] }
        let blocks = dataset.training
        let extents = [median(blocks.map(\.z.count)), median(blocks.map { dataset.cases[$0.caseIndex].size[1] }),
                       median(blocks.map { dataset.cases[$0.caseIndex].size[0] })]
        do {
            return try NetworkPlan.patch(model.graph, channels: model.inputChannels, multiple: model.inputMultiple, median: extents, spacing: spacing,
                                         batch: batch, budget: budget).patch
        } catch { throw CLIError("\(error)") }
    }

    /// The kernels of a 3D model's convolutions and windows of its poolings, level by level, as `segrun plan`
    /// prints them ("1x3x3 3x3x3 ... | pool 1x2x2 2x2x2 ...").
    static func describeTopology(_ model: Model) -> String {
        var kernels: [String] = [], pools: [String] = []
        for node in model.graph.nodes {
            switch node.op {
            case .conv2d(let a) where a.window.taps > 1 && a.window.stride.allSatisfy({ $0 == 1 }):
                let k = a.window.kernel.map(String.init).joined(separator: "x")
                if kernels.last != k { kernels.append(k) }
            case .maxPool2d(let p): pools.append(p.window.window.kernel.map(String.init).joined(separator: "x"))
            default: break
            }
        }
        return "kernels " + kernels.joined(separator: " -> ") + "; pooling " + pools.joined(separator: ", ")
    }
}
