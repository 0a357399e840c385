import ArgumentParser
import Foundation
import Engine
import Kernels
import ImageIO
import Volumes

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

            Examples:
              segrun predict model.segrun scans/ --out masks/ --overlay --overlay-style tint
              segrun predict model.segrun big.png --out out/ --tile 256 --tta
              segrun predict --preset unet-s ../shared/data/brain-mask/images --out /tmp/masks
              segrun predict brain.segrun ../shared/data/nifti/ch2.nii.gz --out masks/ --overlay
            """))

    @Argument(help: "Model file, then images or folders of images. With --preset, only images.")
    var paths: [String]

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Output folder (created if missing).")
    var out: String

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

    @Flag(help: "Test-time augmentation: average over horizontal and vertical flips.")
    var tta = false

    @Flag(help: "Also write probability maps: NAME_prob.png (foreground, binary models) or NAME_probK.png per class, 16-bit, 65535 = 1; for a volume, float32 volumes NAME_prob.nii.gz or NAME_probK.nii.gz (.nrrd for NRRD) on its grid.")
    var probabilities = false

    @Flag(help: "Print one JSON object with the summary (masks written, failures, time) instead of the text line.")
    var json = false

    @Option(help: "Volumes: the slicing axis, x, y or z (default: the axis of coarsest spacing, z on a tie).")
    var axis: String?

    @Option(help: "Volumes: intensity normalization, percentile:LOW:HIGH, zscore or ct:LOW:HIGH:MEAN:STD, comma-separated per channel (default: the model's, else percentile:0.5:99.5).")
    var window: String?

    @Option(help: "Volumes: slices per forward pass (default: as many as make 64 Ki pixels, at most 16).")
    var batch: Int?

    @Option(help: "Convolution algorithm: measured (default) or one of igemm, winograd-f4, ... for reproducible outputs across machines.")
    var algorithm: String = "measured"

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
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

    func run() throws {
        var paths = self.paths
        let modelPath: String? = modelOptions.preset == nil ? (paths.isEmpty ? nil : paths.removeFirst()) : nil
        let (model, label, _) = try modelOptions.load(modelPath)
        let (images, volumes) = try collectInputs(paths)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let policy: AlgorithmPolicy = algorithm == "measured" ? .measured : .forced(ConvAlgorithm(name: algorithm)!)
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: threads ?? ParallelFor.coreCount, policy: policy) } catch { throw CLIError("\(error)") }
        let options = InferenceOptions(tile: tile, overlap: overlap, blending: TileBlending(rawValue: blend)!, flips: tta)
        let style = overlay ? Overlay.Style(rawValue: overlayStyle)! : nil

        var volumeFailures: [String] = []
        if !volumes.isEmpty {
            FileHandle.standardError.write("segrun predict: \(label), \(volumes.count) volume(s) -> \(out)\n".data(using: .utf8)!)
            volumeFailures = predictVolumes(volumes, segmenter: segmenter, options: options)
            if images.isEmpty {
                if !volumeFailures.isEmpty { throw CLIError("\(volumeFailures.count) of \(volumes.count) volume(s) failed (listed above)") }
                return
            }
        }
        FileHandle.standardError.write("segrun predict: \(label), \(images.count) image(s) -> \(out)\n".data(using: .utf8)!)
        let progress = ProgressBar(total: images.count, label: "predict")
        var failures: [String] = []
        var foreground = 0.0
        let start = Date()
        for (i, path) in images.enumerated() {
            do {
                let slices = model.metadata.int(MetadataKey.inputSlices) ?? 1
                let image = try ImageFile.read(path).converted(toChannels: slices > 1 ? 1 : model.inputChannels)
                var planes = image.planar
                if slices > 1 {
                    // 2.5D: the neighbouring inputs in name order become the other channels.
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
                let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                let maskPixels = model.classes == 1 ? labels.map { $0 == 0 ? UInt8(0) : 255 } : labels
                try ImageFile.writePNG(maskPixels, width: image.width, height: image.height, channels: 1, to: out + "/" + stem + ".png")
                if self.probabilities {
                    let hw = image.width * image.height
                    for c in 0..<probabilities.shape.channels {
                        let plane = probabilities.data[(c * hw)..<((c + 1) * hw)].map { UInt16(max(0, min(1, $0)) * 65535 + 0.5) }
                        let suffix = probabilities.shape.channels == 1 ? "_prob" : "_prob\(c)"
                        try ImageFile.writePNG16(plane, width: image.width, height: image.height, to: out + "/" + stem + suffix + ".png")
                    }
                }
                if let style {
                    let rgb = Overlay.render(image, labels: labels, style: style)
                    try ImageFile.writePNG(rgb, width: image.width, height: image.height, channels: 3, to: out + "/" + stem + "_overlay.png")
                }
                foreground += Double(labels.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }) / Double(labels.count)
            } catch {
                failures.append("\(error)")
                progress.note("error: \(error)")
            }
            progress.update(i + 1)
        }
        let elapsed = Date().timeIntervalSince(start)
        let done = images.count - failures.count
        if json {
            print(JSON.object([("masks", "\(done)"), ("failed", "\(failures.count)"), ("out", JSON.string(out)),
                               ("seconds", String(format: "%.3f", elapsed)), ("ms_per_image", String(format: "%.2f", elapsed / Double(max(1, images.count)) * 1e3)),
                               ("mean_foreground", String(format: "%.5f", done > 0 ? foreground / Double(done) : 0)), ("precision", JSON.string(model.precision))]))
        } else {
            print(String(format: "wrote %d mask(s) to %@ in %.2f s (%.1f ms/image); mean foreground %.1f%%",
                         done, out, elapsed, elapsed / Double(max(1, images.count)) * 1e3, done > 0 ? foreground / Double(done) * 100 : 0))
        }
        if !failures.isEmpty || !volumeFailures.isEmpty {
            throw CLIError("\(failures.count) of \(images.count) image(s) and \(volumeFailures.count) of \(volumes.count) volume(s) failed (listed above)")
        }
    }

    /// Images and volumes: files as given (volumes by their names), folders expanded to their PNG and JPEG
    /// files and their NIfTI and NRRD volumes, sorted by name.
    func collectInputs(_ paths: [String]) throws -> (images: [String], volumes: [String]) {
        if paths.isEmpty { throw CLIError("no images given") }
        var images: [String] = [], volumes: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError("\(path): no such file or folder") }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                let imageNames = names.filter(ImageFile.looksLikeImage), volumeNames = names.filter(VolumeFile.looksLikeVolume)
                if imageNames.isEmpty && volumeNames.isEmpty { throw CLIError("\(path): no PNG, JPEG, NIfTI or NRRD files in this folder") }
                images += imageNames.map { (path as NSString).appendingPathComponent($0) }
                volumes += volumeNames.map { (path as NSString).appendingPathComponent($0) }
            } else if VolumeFile.looksLikeVolume(path) {
                volumes.append(path)
            } else {
                images.append(path)
            }
        }
        return (images, volumes)
    }
}
