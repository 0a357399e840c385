import Foundation
import Engine
import ImageIO
import Volumes
import Train
import Instances

/// `segrun eval` on a dataset of volumes: per case and class, overlap and surface distances in the volumes'
/// units, then means over cases and the pooled Dice. Returns the scores of every case (or held-out slab) as
/// `SegmentationScores` over cases, for the demo's table.
extension EvalCommand {
    func evaluateVolumes(_ modelFile: Model?) throws -> SegmentationScores {
        let cases: [VolumeCase]
        do { cases = try VolumeDataset.scan(data).filter { $0.mask != nil } } catch { throw CLIError("\(error)") }
        if cases.isEmpty { throw CLIError("\(data): no case has a label volume (masks/ or labelsTr/)") }
        var model: Model? = nil
        var run: VolumeSegmentation? = nil
        if var m = modelFile {
            if let threshold { m.metadata[MetadataKey.threshold] = .float(Double(threshold)) }
            do { run = VolumeSegmentation(segmenter: try Segmenter(m, threads: threads ?? ParallelFor.coreCount), axis: axis.flatMap(SliceAxis.init(rawValue:))) }
            catch { throw CLIError("\(error)") }
            model = m
        }
        // With --val, the held-out part of each case: whole cases (cases:F) or runs of slices (the other splits,
        // applied to the slice names training used, CASE_zNNNN), each run scored as a slab of its own.
        var slabs: [String: [Range<Int>]] = [:]
        if let val, let model, model.inputSpatialRank == 3 {
            slabs = try heldOutBlocks(val, model: model, cases: cases, run: run)
        } else if let val, let model {
            let split = try resolvedSplit(val, model: model)
            // The slices training cut: along the model's axis of the volume at the model's spacing. Each maps back
            // to the run of original slices it covers.
            var names: [String] = [], owner: [(String, Range<Int>)] = []
            let target = model.metadata.floats(MetadataKey.inputVolumeSpacing).map { $0.map(Double.init) }
            let recordedAxis = model.metadata.string(MetadataKey.inputVolumeAxis).flatMap(SliceAxis.init(rawValue:))
            for c in cases {
                var image: VolumeGrid
                do { image = try VolumeFile.open(c.mask!).grid } catch { throw CLIError("\(error)") }  // the header only
                // Training cut the case in the model's orientation.
                if let turn = run?.reorientation(image.affine) { (image.size, image.spacing) = (turn.size(image.size), turn.source.map { image.spacing[$0] }) }
                let axisUsed = axis.flatMap(SliceAxis.init(rawValue:)) ?? recordedAxis ?? SliceAxis.coarsest(image.spacing)
                let n = axisUsed.count(image.size)
                let m = target.map { axisUsed.count(VolumeResampling.size(image.size, spacing: image.spacing, target: $0)) } ?? n
                for s in 0..<m {
                    names.append(c.name + "_" + axisUsed.rawValue + String(format: "%04d", s))
                    let lower = s * n / m, upper = max(lower + 1, ((s + 1) * n + m - 1) / m)
                    owner.append((c.name, lower..<min(n, upper)))
                }
            }
            // As training split them: by case (cases:F, a list of case names) or by slice name.
            let held: [Int]
            let samples = names.indices.map { Sample(name: names[$0], image: [], mask: [], group: owner[$0].0) }
            do { held = try split.split(samples).validation } catch { throw CLIError("\(error)") }
            for i in held {
                let (name, r) = owner[i]
                if let last = slabs[name]?.last, last.upperBound >= r.lowerBound {
                    slabs[name]![slabs[name]!.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    slabs[name, default: []].append(r)
                }
            }
        }
        let selected = slabs.isEmpty ? cases : cases.filter { slabs[$0.name] != nil }
        // Classes: the model's, or every id in the truth and predictions (for --pred).
        var truths: [[UInt8]] = [], predictions: [[UInt8]] = [], grids: [(size: [Int], spacing: [Double], units: String, affine: [[Double]])] = []
        let progress = ProgressBar(total: selected.count, label: "eval")
        for (k, c) in selected.enumerated() {
            let truthVolume: Volume
            do { truthVolume = try VolumeFile.read(c.mask!) } catch { throw CLIError("\(error)") }
            var truth = truthVolume.voxels.prefix(truthVolume.voxelCount).map { UInt8(max(0, min(255, $0.rounded()))) }
            if let model, model.classes == 1 { truth = truth.map { $0 > 0 ? 1 : 0 } }
            var predicted: [UInt8]
            if let run {
                let image: Volume
                do { image = try c.readImage() } catch { throw CLIError("\(error)") }
                if image.size != truthVolume.size { throw CLIError("\(c.mask!): \(truthVolume.size) voxels, its image \(c.images[0]) has \(image.size)") }
                do { predicted = try run.labels(image).labels } catch { throw CLIError("\(c.images[0]): \(error)") }
                if largestComponent { predicted = ConnectedComponents.keepingLargest(predicted, size: image.size.reversed()) }
            } else {
                let candidates = [".nii.gz", ".nii", ".nrrd"].map { pred! + "/" + c.name + $0 }
                guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    throw CLIError("\(pred!): no prediction for case \(c.name) (looked for \(c.name).nii.gz, .nii, .nrrd)")
                }
                let volume: Volume
                do { volume = try VolumeFile.read(path) } catch { throw CLIError("\(error)") }
                if volume.size != truthVolume.size { throw CLIError("\(path): \(volume.size) voxels, the truth \(c.mask!) has \(truthVolume.size)") }
                predicted = volume.voxels.prefix(volume.voxelCount).map { UInt8(max(0, min(255, $0.rounded()))) }
            }
            truths.append(truth)
            predictions.append(predicted)
            grids.append((truthVolume.size, truthVolume.spacing, truthVolume.units, truthVolume.affine))
            progress.update(k + 1)
        }
        let classIds: [UInt8]
        if let model { classIds = Metrics.foregroundClasses(model.classes) } else {
            let top = max(truths.map { $0.max() ?? 0 }.max() ?? 0, predictions.map { $0.max() ?? 0 }.max() ?? 0)
            classIds = top == 0 ? [1] : Array(1...top)
        }
        var scores = VolumeScores(classes: classIds, nsdTolerance: nsdTol)
        var overCases = SegmentationScores(modelClasses: model?.classes ?? (classIds.count == 1 ? 1 : Int(classIds.last!) + 1))
        for i in 0..<selected.count {
            let name = selected[i].name
            guard let runs = slabs[name] else {
                scores.add(name, predicted: predictions[i], truth: truths[i], size: grids[i].size, spacing: grids[i].spacing)
                overCases.add(predicted: predictions[i][...], truth: truths[i][...])
                continue
            }
            // Slabs are runs of the slices training cut, in the model's orientation.
            var (size, spacing, predicted, truth) = (grids[i].size, grids[i].spacing, predictions[i], truths[i])
            if let turn = run?.reorientation(grids[i].affine) {
                (predicted, truth) = (turn.apply(predicted, size: size), turn.apply(truth, size: size))
                (size, spacing) = (turn.size(size), turn.source.map { spacing[$0] })
            }
            let axisUsed = model?.inputSpatialRank == 3 ? .z : axis.flatMap(SliceAxis.init(rawValue:))
                ?? model?.metadata.string(MetadataKey.inputVolumeAxis).flatMap(SliceAxis.init(rawValue:)) ?? SliceAxis.coarsest(spacing)
            for r in runs {
                let p = LabelVolume(size: size, labels: predicted).slab(r, along: axisUsed)
                let t = LabelVolume(size: size, labels: truth).slab(r, along: axisUsed)
                let label = r.count == axisUsed.count(size) ? name : "\(name)[\(axisUsed.rawValue) \(r.lowerBound)-\(r.upperBound - 1)]"
                scores.add(label, predicted: p.labels, truth: t.labels, size: p.size, spacing: spacing)
                overCases.add(predicted: p.labels[...], truth: t.labels[...])
            }
        }
        let names = model?.metadata.strings(MetadataKey.classNames) ?? []
        func className(_ k: Int) -> String {
            let c = Int(classIds[k])
            if model?.classes == 1 { return names.last ?? "foreground" }
            return c < names.count ? names[c] : "class\(c)"
        }
        // NIfTI files often leave xyzt_units unset; their spacing is millimetres by the format's convention.
        let unitsGiven = grids.first?.units.isEmpty == false
        let units = unitsGiven ? grids[0].units : "mm"
        func num(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "null" }
        if json {
            var perCase: [(String, String)] = []
            for c in scores.cases {
                perCase.append((c.name, JSON.object(c.classes.enumerated().map { k, s in
                    (className(k), JSON.object([("dice", num(s.dice)), ("iou", num(s.iou)), ("hd95", num(s.hd95)), ("asd", num(s.averageSurfaceDistance)),
                                                ("nsd", num(s.normalizedSurfaceDice)), ("truth_voxels", "\(s.truth)"), ("predicted_voxels", "\(s.predicted)")]))
                })))
            }
            let means = classIds.indices.map { k -> (String, String) in
                let m = scores.summary(k)
                return (className(k), JSON.object([("pooled_dice", num(m.pooledDice)), ("mean_dice", num(m.dice)), ("mean_iou", num(m.iou)),
                                                   ("mean_hd95", num(m.hd95)), ("mean_asd", num(m.asd)), ("mean_nsd", num(m.nsd)),
                                                   ("hd95_undefined", "\(m.undefined)")]))
            }
            print(JSON.object([("cases", "\(scores.cases.count)"), ("units", JSON.string(units)), ("nsd_tolerance", "\(nsdTol)"),
                               ("pooled_dice", num(scores.pooledDice)), ("per_class", JSON.object(means)), ("per_case", JSON.object(perCase))]))
            return overCases
        }
        print(String(format: "%d case(s): pooled Dice %.4f; distances in %@%@, NSD at %g %@", scores.cases.count, scores.pooledDice, units,
                     unitsGiven ? "" : " (the files do not say; assumed)", nsdTol, units))
        for c in scores.cases {
            for (k, s) in c.classes.enumerated() {
                print(String(format: "  %@ %@: Dice %.4f  IoU %.4f  HD95 %@  ASD %@  NSD %.4f", c.name, className(k), s.dice, s.iou,
                             s.hd95.map { String(format: "%.2f", $0) } ?? "n/a", s.averageSurfaceDistance.map { String(format: "%.2f", $0) } ?? "n/a",
                             s.normalizedSurfaceDice))
            }
        }
        for k in classIds.indices {
            let m = scores.summary(k)
            print(String(format: "mean over cases, %@: Dice %.4f  IoU %.4f  HD95 %@ %@ (%d undefined)  ASD %@  NSD %.4f  pooled Dice %@", className(k),
                         m.dice, m.iou, m.hd95.map { String(format: "%.2f", $0) } ?? "n/a", units, m.undefined,
                         m.asd.map { String(format: "%.2f", $0) } ?? "n/a", m.nsd, num(m.pooledDice)))
        }
        return overCases
    }

    /// A 3D model's held-out blocks (`VolumePatchData.heldOut`: whole cases or a z slab of each) as runs of each
    /// case's original z slices, in the model's orientation.
    func heldOutBlocks(_ val: String, model: Model, cases: [VolumeCase], run: VolumeSegmentation?) throws -> [String: [Range<Int>]] {
        let spec = val == "train" ? model.metadata.string(MetadataKey.trainValidationSplit) : val
        guard let spec else { throw CLIError("--val train: the model does not record its validation split") }
        let target = model.metadata.floats(MetadataKey.inputVolumeSpacing).map { $0.map(Double.init) }
        var original: [Int] = [], planned: [Int] = []
        for c in cases {
            var grid: VolumeGrid
            do { grid = try VolumeFile.open(c.mask!).grid } catch { throw CLIError("\(error)") }
            if let turn = run?.reorientation(grid.affine) { (grid.size, grid.spacing) = (turn.size(grid.size), turn.source.map { grid.spacing[$0] }) }
            original.append(grid.size[2])
            planned.append(target.map { VolumeResampling.size(grid.size, spacing: grid.spacing, target: $0)[2] } ?? grid.size[2])
        }
        let held: [Range<Int>?]
        do { held = try VolumePatchData.heldOut(try VolumePatchData.Split.parse(spec), depths: planned) } catch { throw CLIError("\(error)") }
        var slabs: [String: [Range<Int>]] = [:]
        for (k, c) in cases.enumerated() {
            guard let z = held[k] else { continue }
            let n = original[k], m = planned[k], lower = z.lowerBound * n / m
            slabs[c.name] = [lower..<min(n, max(lower + 1, (z.upperBound * n + m - 1) / m))]
        }
        return slabs
    }
}
