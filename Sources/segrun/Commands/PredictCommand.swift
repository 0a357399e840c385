import ArgumentParser
import Foundation
import Engine
import Kernels
import ImageIO
import Volumes
import Instances
import Cluster

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Segment images and volumes: one mask PNG per image, one label volume per NIfTI or NRRD volume.",
        discussion: HelpText.discussion("""
            Masks are 8-bit PNGs of the input's size: 0/255 for a binary model (foreground at the model's
            threshold), class ids 0, 1, 2, ... for a multi-class model. Inputs are PNG (8/16-bit grey, RGB,
            RGBA) or JPEG files, NIfTI (.nii, .nii.gz, .hdr/.img) or NRRD (.nrrd, .nhdr) volumes, or folders of
            them. An unreadable input is reported and skipped; the command then exits non-zero.

            A volume runs slice by slice along its coarsest axis (or --axis), each slice laid out as the
            ../shared/data PNG slices are (axial: x to the right, y up), its intensities normalized as the model
            records (a model trained on volumes: z-score per volume, or CT's fixed window), else windowed at the
            volume's 0.5 and 99.5 percentiles as those slices were (--window overrides). The label volume (class ids;
            1 for a binary model's foreground) is written as NAME.nii.gz or NAME.nrrd in the input's geometry:
            the input's header with only the voxel fields changed. --overlay adds NAME_montage.png: axial,
            coronal and sagittal slices through the mask's centre, mask tinted.

            A 3D model (segrun train with unet3d-*, vnet-s or res-unet3d-s) runs on the volume resampled to its
            spacing (--spacing for a model without one), read slice by slice, by Gaussian sliding windows of its
            training patch (--tile S: S^3) at half-window steps; --tta mirrors each window over all 8 axis subsets;
            --largest-component keeps each class's largest 26-connected component.

            Examples:
              segrun predict model.segrun scans/ --out masks/ --overlay --overlay-style tint
              segrun predict model.segrun big.png --out out/ --tile 256 --tta
              segrun predict lesions.segrun photos/ --out out/ --instances --min-size 20
              segrun predict --preset unet-s ../shared/data/brain-mask/images --out /tmp/masks
              segrun predict brain.segrun ../shared/data/nifti/ch2.nii.gz --out masks/ --overlay
              segrun predict runs/brain3d/best.segrun ct.nii.gz --out masks/ --tta --largest-component

            Many machines (docs/SCALING.md, deploy/): --shard K/N processes the K-th of N contiguous runs of the
            sorted inputs; in a Slurm array task or a Kubernetes Indexed Job the shard comes from the environment
            (SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with --shards N). Outputs are written atomically, inputs
            whose outputs all exist are skipped (--resume, the default when the output folder exists), and each
            shard writes DIR/shard-K-of-N.json; --merge DIR combines those.

              segrun predict model.segrun --manifest cohort.txt --out masks/ --shard 2/8
              sbatch --array=0-7 deploy/slurm/predict.sbatch model.segrun scans/ masks/
              segrun predict --merge masks/
            """))

    @Argument(help: "Model file, then images or folders of images. With --preset, only images.")
    var paths: [String] = []

    @Option(help: "A text file listing inputs, one path per line (blank lines and lines starting with # skipped; relative paths from the current folder), besides any given as arguments.")
    var manifest: String?

    @Option(help: "Process only shard K of N (1-based): the K-th of N contiguous runs of the sorted inputs. Default: from SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with --shards, when set; 1/1 for all inputs.")
    var shard: String?

    @Option(help: "The shard count when the index comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's completions); also SEGRUN_SHARDS.")
    var shards: Int?

    @Flag(inversion: .prefixedNo, help: "Skip inputs whose outputs are all in the output folder already (default: on when the output folder exists before the run).")
    var resume: Bool?

    @Flag(help: "Stop at the first failing input (default: record it, go on, exit non-zero at the end).")
    var failFast = false

    @Option(help: "Combine the shard summaries DIR/shard-K-of-N.json into DIR/summary.json and print it (no model or inputs).")
    var merge: String?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Multi-label models: one probability threshold per label, comma-separated (default: the model's, 0.5).")
    var thresholds: String?

    @Option(help: "Output folder (created if missing).")
    var out: String?

    @Flag(help: "Also write NAME_overlay.png: the mask drawn over the image.")
    var overlay = false

    @Option(help: "Overlay style: outline (region borders) or tint (filled, 40%).")
    var overlayStyle: String = "outline"

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Sliding-window tile side in pixels; images larger than this run in overlapping tiles.")
    var tile: Int?

    @Option(help: "Overlap between neighbouring tiles, as a fraction of the tile.")
    var overlap: Double = 0.5

    @Option(help: "Blending of overlapping tiles: gaussian, linear or constant.")
    var blend: String = "gaussian"

    @Flag(help: "Test-time augmentation: average over horizontal and vertical flips (3D models: mirroring over all 8 axis subsets of each window).")
    var tta = false

    @Flag(help: "Also write probability maps: NAME_prob.png (foreground, binary models) or NAME_probK.png per class, 16-bit, 65535 = 1; for a volume, float32 volumes NAME_prob.nii.gz or NAME_probK.nii.gz (.nrrd for NRRD) on its grid.")
    var probabilities = false

    @Flag(help: "Also write NAME_instances.png: the foreground split into instances (--split none, distance or boundary), a 16-bit label map (0 background, 1...N one instance each); for a volume, NAME_instances.nii.gz (or .nrrd), uint16, split in 3D.")
    var instances = false

    @OptionGroup var instanceOptions: InstanceOptions





    @Flag(help: "Print one JSON object with the summary (masks written, failures, time) instead of the text line.")
    var json = false

    @Option(help: "Volumes: the slicing axis, x, y or z (default: the axis of coarsest spacing, z on a tie).")
    var axis: String?

    @Option(help: "Volumes: intensity normalization, percentile:LOW:HIGH, zscore or ct:LOW:HIGH:MEAN:STD, comma-separated per channel (default: the model's, else percentile:0.5:99.5).")
    var window: String?

    @Flag(help: "Volumes: keep only the largest connected component (26-connected) of each class, as nnU-Net's post-processing does for single-object structures (a brain, a liver).")
    var largestComponent = false

    @Option(help: "Volumes: resample to this voxel spacing before the model, X or XxYxZ in the volume's units (default: the model's training spacing; none for an untrained model), and the labels back.")
    var spacing: String?

    @Option(help: "Volumes: slices per forward pass (default: as many as make 64 Ki pixels, at most 16).")
    var batch: Int?

    @Option(help: "Convolution algorithm: measured (default) or one of igemm, winograd-f4, ... for reproducible outputs across machines.")
    var algorithm: String = "measured"

    func validate() throws {
        if merge != nil {
            if !paths.isEmpty || out != nil || manifest != nil || shard != nil { throw ValidationError("--merge DIR takes no model, inputs, --out, --manifest or --shard") }
            return
        }
        if out == nil { throw ValidationError("give the output folder with --out DIR") }
        if let shards, shards < 1 { throw ValidationError("--shards must be at least 1") }
        if let threads, !(1...ParallelFor.maxThreads).contains(threads) { throw ValidationError("--threads takes 1 to \(ParallelFor.maxThreads)") }
        if let tile, tile < 16 { throw ValidationError("--tile must be at least 16 pixels") }
        if !(0..<0.95).contains(overlap) { throw ValidationError("--overlap must be in [0, 0.95)") }
        if TileBlending(rawValue: blend) == nil { throw ValidationError("--blend takes gaussian, linear or constant") }
        if Overlay.Style(rawValue: overlayStyle) == nil { throw ValidationError("--overlay-style takes outline or tint") }
        if algorithm != "measured" && ConvAlgorithm(name: algorithm) == nil { throw ValidationError("unknown algorithm '\(algorithm)'") }
        if let axis, SliceAxis(rawValue: axis) == nil { throw ValidationError("--axis takes x, y or z") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let window, IntensityWindow.list(window) == nil {
            throw ValidationError("--window takes percentile:LOW:HIGH, zscore or ct:LOW:HIGH:MEAN:STD (comma-separated per channel)")
        }
    }

    /// `--out` without trailing slashes, so that outputs and messages name `DIR/NAME`.
    var outputFolder: String {
        var path = out!
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    func run() throws {
        if let merge { return try mergeShards(merge) }
        let out = outputFolder
        var paths = self.paths
        let modelPath: String? = modelOptions.preset == nil ? (paths.isEmpty ? nil : paths.removeFirst()) : nil
        var (model, label, _) = try modelOptions.load(modelPath)
        try applyLabelThresholds(thresholds, to: &model)
        let listed = try manifest.map(readManifest) ?? []
        let (allImages, allVolumes) = try collectInputs(paths, listed: listed)
        if model.inputSpatialRank == 3, let image = allImages.first {
            throw CLIError("\(label) is a 3D model: it segments volumes (.nii, .nii.gz, .nrrd, .nhdr, .hdr/.img), not images like \(image)"
                + (allImages.count > 1 ? " (and \(allImages.count - 1) more)" : ""))
        }
        let shard: Shard?
        do { shard = try Shard.resolve(option: self.shard, shards: shards, environment: ProcessInfo.processInfo.environment) } catch { throw CLIError("\(error)") }
        if instances { try instanceOptions.check(classes: model.classes) }
        if instances && model.isMultilabel { throw CLIError("--instances splits one foreground; this model is multi-label (split each label's mask, NAME_LABEL.png, instead)") }
        let outputs = OutputNames(model: model, probabilities: probabilities, overlay: overlay, instances: instances)
        try outputs.checkDistinct(allImages + allVolumes)

        // This process's inputs: a contiguous run of images-then-volumes, each list sorted.
        let range = shard?.range(of: allImages.count + allVolumes.count) ?? 0..<(allImages.count + allVolumes.count)
        let imageIndices = Array(range.clamped(to: 0..<allImages.count))
        let volumeRange = range.clamped(to: allImages.count..<(allImages.count + allVolumes.count))
        let volumes = Array(allVolumes[(volumeRange.lowerBound - allImages.count)..<(volumeRange.upperBound - allImages.count)])
        if let shard {
            let positions = range.isEmpty ? "no inputs" : "inputs \(range.lowerBound + 1)-\(range.upperBound) of \(allImages.count + allVolumes.count)"
            note("segrun predict: shard \(shard.number)/\(shard.count) from \(shard.origin): \(positions)")
        }

        let fm = FileManager.default
        let resuming = resume ?? fm.fileExists(atPath: out)
        try BinaryFile.makeFolders(out)
        let finished = { (input: String) in resuming && outputs.of(input).allSatisfy { fm.fileExists(atPath: out + "/" + $0) } }
        // One pass each: a cohort's shard can hold tens of thousands of inputs.
        let (skippedImages, imagesToRun) = partition(imageIndices) { finished(allImages[$0]) }
        let (skippedVolumes, volumesToRun) = partition(volumes, by: finished)
        let skipped = skippedImages.map { allImages[$0] } + skippedVolumes
        if !skipped.isEmpty {
            note("segrun predict: \(skipped.count) of \(imageIndices.count + volumes.count) input(s) already have all their outputs in \(out): skipped (--no-resume redoes them)")
        }
        var record = shard.map { ShardSummary(shard: $0, host: ProcessInfo.processInfo.hostName, started: Date()) }
        record?.inputs = imageIndices.map { allImages[$0] } + volumes
        record?.skipped = skipped
        let runStart = Date()
        func finish() {
            guard var summary = record else { return }
            summary.seconds = Date().timeIntervalSince(runStart)
            do { try summary.write(toDirectory: out) } catch { note("error: cannot write \(out)/\(summary.fileName): \(error)") }
        }
        func succeeded(_ input: String) {
            record?.processed.append(input)
            record?.outputs += outputs.of(input)
        }
        func failed(_ input: String, _ error: Error) {
            record?.failures.append(.init(input: input, error: failureMessage(input, error)))
        }

        let policy: AlgorithmPolicy = algorithm == "measured" ? .measured : .forced(ConvAlgorithm(name: algorithm)!)
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: threads ?? ParallelFor.coreCount, policy: policy) } catch { throw CLIError("\(error)") }
        let options = InferenceOptions(tile: tile, overlap: overlap, blending: TileBlending(rawValue: blend)!, flips: tta)
        let style = overlay ? Overlay.Style(rawValue: overlayStyle)! : nil

        var volumeFailures: [String] = []
        if !volumesToRun.isEmpty {
            note("segrun predict: \(label), \(volumesToRun.count) volume(s) -> \(out)")
            for result in predictVolumes(volumesToRun, segmenter: segmenter, options: options) {
                if let error = result.error { volumeFailures.append(error); failed(result.input, CLIError(error)) } else { succeeded(result.input) }
            }
            if failFast && !volumeFailures.isEmpty { finish(); throw CLIError("stopped at the first failure (--fail-fast): \(volumeFailures[0])") }
        }
        if imagesToRun.isEmpty {
            finish()
            if !volumeFailures.isEmpty { throw CLIError("\(volumeFailures.count) of \(volumes.count) volume(s) failed (listed above)") }
            if volumesToRun.isEmpty { print("nothing to do: \(imageIndices.isEmpty && volumes.isEmpty ? "this shard has no inputs" : "every input's outputs are in \(out)")") }
            return
        }
        let images = allImages
        note("segrun predict: \(label), \(imagesToRun.count) image(s) -> \(out)")
        let progress = ProgressBar(total: imagesToRun.count, label: "predict")
        var failures: [String] = []
        var foreground = 0.0
        let start = Date()
        for (done, i) in imagesToRun.enumerated() {
            let path = images[i]
            do {
                let slices = model.metadata.int(MetadataKey.inputSlices) ?? 1
                let image = try ImageFile.read(path).converted(toChannels: slices > 1 ? 1 : model.inputChannels)
                var planes = image.planar
                if slices > 1 {
                    // 2.5D: the neighbouring inputs in name order become the other channels (from the whole
                    // sorted list, so a shard's first and last images see the same neighbours as without shards).
                    planes = []
                    for k in 0..<slices {
                        let j = min(images.count - 1, max(0, i + k - slices / 2))
                        let neighbour = j == i ? image : try ImageFile.read(images[j]).converted(toChannels: 1)
                        if neighbour.width != image.width || neighbour.height != image.height {
                            throw CLIError("\(images[j]): a 2.5D neighbour must have the size of \(path)")
                        }
                        planes += neighbour.planar
                    }
                }
                let x = Tensor(shape: TensorShape(batch: 1, channels: planes.count / (image.width * image.height), height: image.height, width: image.width),
                               data: planes)
                let probabilities = try segmenter.probabilities(segmenter.normalize(x), options: options)
                let labels = segmenter.labels(probabilities)
                let stem = OutputNames.stem(path)
                let maskPixels = model.classes == 1 ? labels.map { $0 == 0 ? UInt8(0) : 255 } : labels
                try ImageFile.writePNG(maskPixels, width: image.width, height: image.height, channels: 1, to: out + "/" + stem + ".png")
                // Multi-label: NAME.png holds the label bits (bit c: label c); NAME_LABEL.png each label's own mask.
                for (c, name) in outputs.labelNames.enumerated() {
                    let bit = UInt8(1) << UInt8(c)
                    try ImageFile.writePNG(labels.map { $0 & bit != 0 ? 255 : 0 }, width: image.width, height: image.height, channels: 1,
                                           to: out + "/" + stem + "_" + name + ".png")
                }
                if self.probabilities {
                    let hw = image.width * image.height
                    for c in 0..<probabilities.shape.channels {
                        let plane = probabilities.data[(c * hw)..<((c + 1) * hw)].map { UInt16(max(0, min(1, $0)) * 65535 + 0.5) }
                        let suffix = probabilities.shape.channels == 1 ? "_prob" : "_prob\(c)"
                        try ImageFile.writePNG16(plane, width: image.width, height: image.height, to: out + "/" + stem + suffix + ".png")
                    }
                }
                if instances {
                    let found = instanceOptions.instances(labels, height: image.height, width: image.width)
                    if found.count > Int(UInt16.max) { throw CLIError("\(path): \(found.count) instances do not fit a 16-bit label map") }
                    try ImageFile.writePNG16(found.labels.map { UInt16($0) }, width: image.width, height: image.height, to: out + "/" + stem + "_instances.png")
                }
                if let style {
                    let rgb = Overlay.render(image, labels: labels, style: style)
                    try ImageFile.writePNG(rgb, width: image.width, height: image.height, channels: 3, to: out + "/" + stem + "_overlay.png")
                }
                foreground += Double(labels.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }) / Double(labels.count)
                succeeded(path)
            } catch {
                let message = failureMessage(path, error)
                failures.append(message)
                failed(path, error)
                progress.note("error: \(message)")
                if failFast { finish(); throw CLIError("stopped at the first failure (--fail-fast): \(message)") }
            }
            progress.update(done + 1)
        }
        finish()
        let elapsed = Date().timeIntervalSince(start)
        let done = imagesToRun.count - failures.count
        if json {
            print(JSON.object([("masks", "\(done)"), ("skipped", "\(skippedImages.count)"), ("failed", "\(failures.count)"), ("out", JSON.string(out)),
                               ("seconds", String(format: "%.3f", elapsed)), ("ms_per_image", String(format: "%.2f", elapsed / Double(max(1, imagesToRun.count)) * 1e3)),
                               ("mean_foreground", String(format: "%.5f", done > 0 ? foreground / Double(done) : 0)), ("precision", JSON.string(model.precision))]))
        } else {
            print(String(format: "wrote %d mask(s) to %@ in %.2f s (%.1f ms/image); mean foreground %.1f%%",
                         done, out, elapsed, elapsed / Double(max(1, imagesToRun.count)) * 1e3, done > 0 ? foreground / Double(done) * 100 : 0)
                  + (skippedImages.isEmpty ? "" : "; \(skippedImages.count) skipped (already done)"))
        }
        if !failures.isEmpty || !volumeFailures.isEmpty {
            let counts = [(failures.count, imagesToRun.count, "image(s)"), (volumeFailures.count, volumesToRun.count, "volume(s)")]
            throw CLIError(counts.filter { $0.1 > 0 }.map { "\($0.0) of \($0.1) \($0.2)" }.joined(separator: " and ") + " failed (listed above)")
        }
    }

    /// The elements for which `isIncluded` holds, and the others, each in order.
    private func partition<T>(_ items: [T], by isIncluded: (T) -> Bool) -> (matching: [T], others: [T]) {
        var matching: [T] = [], others: [T] = []
        for item in items { if isIncluded(item) { matching.append(item) } else { others.append(item) } }
        return (matching, others)
    }

    private func note(_ line: String) {
        FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
    }

    /// `--merge DIR`: the shard summaries combined, written to DIR/summary.json and printed.
    func mergeShards(_ directory: String) throws {
        let merged: ShardMerge
        do { merged = try ShardMerge.read(directory: directory) } catch { throw CLIError("\(error)") }
        try merged.write(toDirectory: directory)
        if json {
            print(merged.json, terminator: "")
        } else {
            print(String(format: "%d of %d shard(s) on %d host(s): %d input(s), %d processed, %d skipped (done before), %d failed; %d output file(s); %.2f s wall, %.2f s in processes, %.2f inputs/s",
                         merged.summaries.count, merged.shards, Set(merged.summaries.map(\.host)).count, merged.inputs, merged.processed, merged.skipped,
                         merged.failures.count, merged.outputs, merged.wallSeconds, merged.processSeconds, merged.throughput))
            for f in merged.failures { print("failed: " + (f.error.contains(f.input) ? f.error : "\(f.input): \(f.error)")) }
            print("wrote \(directory)/summary.json")
        }
        if !merged.missing.isEmpty {
            throw CLIError("shard(s) \(merged.missing.map(String.init).joined(separator: ", ")) of \(merged.shards) have no summary yet (not run, still running, or stopped before the end): rerun them")
        }
        if !merged.duplicated.isEmpty {
            throw CLIError("\(merged.duplicated.count) input(s) appear in more than one shard (first: \(merged.duplicated[0])): the shards were given different inputs")
        }
        if !merged.failures.isEmpty { throw CLIError("\(merged.failures.count) input(s) failed (listed above)") }
    }

    /// The lines of a manifest: paths, without blank lines and # comments.
    func readManifest(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("\(path): cannot read the manifest (a UTF-8 text file, one path per line)") }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        if lines.isEmpty { throw CLIError("\(path): the manifest lists no inputs") }
        return lines
    }

    /// Images and volumes, each list sorted by path without repeats: files as given (volumes by their names),
    /// folders expanded to their PNG and JPEG files and their NIfTI and NRRD volumes, and the manifest's lines
    /// (not checked here: a missing one fails as an input, recorded, without stopping the others).
    func collectInputs(_ paths: [String], listed: [String] = []) throws -> (images: [String], volumes: [String]) {
        if paths.isEmpty && listed.isEmpty { throw CLIError("no images given") }
        var images: Set<String> = [], volumes: Set<String> = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError("\(path): no such file or folder") }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                let imageNames = names.filter(ImageFile.looksLikeImage), volumeNames = names.filter(VolumeFile.looksLikeVolume)
                if imageNames.isEmpty && volumeNames.isEmpty { throw CLIError("\(path): no PNG, JPEG, NIfTI or NRRD files in this folder") }
                images.formUnion(imageNames.map { (path as NSString).appendingPathComponent($0) })
                volumes.formUnion(volumeNames.map { (path as NSString).appendingPathComponent($0) })
            } else if VolumeFile.looksLikeVolume(path) {
                volumes.insert(path)
            } else {
                images.insert(path)
            }
        }
        for path in listed {
            if VolumeFile.looksLikeVolume(path) { volumes.insert(path) } else { images.insert(path) }
        }
        return (images.sorted(), volumes.sorted())
    }

}
