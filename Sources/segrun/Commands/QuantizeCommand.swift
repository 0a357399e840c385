import ArgumentParser
import Foundation
import Engine
import Volumes
import ImageIO
import Quant
import Train

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Post-training int8 quantization: calibrate on images, write a compact int8 model file.",
        discussion: HelpText.discussion("""
            BatchNorm is folded and activations fused first. The fp32 model then runs on the calibration
            images (resized to the model's training size, normalized as at inference) and every activation
            tensor gets an 8-bit range by the chosen method. Weights become symmetric int8 per output
            channel, biases int32. Ops without an int8 kernel stay fp32 behind quantize/dequantize steps;
            --report lists them with every layer's SQNR. predict, eval, bench and info take the int8 file
            like any other model.

            Examples:
              segrun quantize runs/brain/best.segrun --calib ../shared/data/brain-mask --out brain-int8.segrun
              segrun quantize model.segrun --calib calib/ --method entropy --report --out model-int8.segrun
              segrun quantize model.segrun --calib calib/ --keep-fp32 enc0.conv1 --out mixed.segrun
              segrun quantize model.segrun --calib calib/ --auto-keep 0.005 --out auto.segrun
            """))

    @Argument(help: "The fp32 model file.")
    var model: String

    @Option(help: "Calibration images: a folder of PNG/JPEG images, or a dataset folder with images/.")
    var calib: String

    @Option(help: "Output int8 model file.")
    var out: String

    @Option(help: "Range method: minmax, percentile or entropy.")
    var method: String = "percentile"

    @Option(help: "Percentile for --method percentile.")
    var percentile: Double = 99.99

    @Option(help: "Use at most this many calibration images (in name order).")
    var images: Int = 64

    @Flag(help: "One weight scale per tensor instead of per output channel.")
    var perTensor = false

    @Option(help: "Keep these convolutions in fp32 (comma-separated node names; segrun info lists them).")
    var keepFP32: String?

    @Option(help: "Automatic mixed precision: keep the most sensitive convolutions in fp32 until fp32 and int8 masks agree to within this Dice budget.")
    var autoKeep: Double?

    @Flag(help: "Print per-layer SQNR, the ops kept in fp32, and the fp32/int8 mask agreement.")
    var report = false

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object with the summary.")
    var json = false

    func validate() throws {
        if CalibrationMethod(name: method, percentile: percentile) == nil { throw ValidationError("--method takes minmax, percentile or entropy") }
        if !(50..<100).contains(percentile) { throw ValidationError("--percentile must be in [50, 100)") }
        if images < 1 { throw ValidationError("--images must be at least 1") }
        if let autoKeep, !(0..<1).contains(autoKeep) { throw ValidationError("--auto-keep takes a budget in [0, 1), for example 0.005") }
        if let threads, !(1...ParallelFor.maxThreads).contains(threads) { throw ValidationError("--threads takes 1 to \(ParallelFor.maxThreads)") }
    }

    func run() throws {
        let fp32 = try loadModelFile(model)
        if fp32.precision == "int8" { throw CLIError("\(model) is already an int8 model") }
        try prepareOutputFile(out)
        let calibration = try loadCalibration(fp32)
        var options = QuantizationOptions()
        options.method = CalibrationMethod(name: method, percentile: percentile)!
        options.perTensor = perTensor
        options.keepFloat = keepFP32.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
        options.autoKeepBudget = autoKeep
        options.threads = threads ?? ParallelFor.coreCount
        FileHandle.standardError.write("segrun quantize: \(model), \(calibration.count) calibration image(s), \(options.method)\n".data(using: .utf8)!)
        let progress = ProgressBar(total: min(8, calibration.count) + calibration.count, label: "calibrate")
        let result: (model: Model, report: QuantizationReport)
        do {
            result = try Quantizer.quantize(fp32, calibration: calibration, options: options) { done, _ in progress.update(done) }
        } catch { throw CLIError("\(error)") }
        do { try FileIO.writeModel(result.model, to: out) } catch { throw CLIError("\(error)") }
        let before = fileSize(model) ?? 0, after = fileSize(out) ?? 0
        let r = result.report
        if json {
            let kept = r.keptFloat.map { "\"\($0)\"" }.joined(separator: ", ")
            print("""
                {"model": "\(out)", "fp32_bytes": \(before), "int8_bytes": \(after), "size_ratio": \(String(format: "%.4f", Double(after) / Double(max(1, before)))), \
                "method": "\(r.method)", "calibration_images": \(r.calibrationImages), "seconds": \(String(format: "%.2f", r.seconds)), \
                "mask_agreement": \(String(format: "%.5f", r.maskAgreement)), "logits_sqnr_db": \(String(format: "%.2f", r.outputSQNR)), "kept_fp32": [\(kept)]}
                """)
            return
        }
        if report { for line in r.lines() { print(line) } }
        print("wrote \(out): \(Format.bytes(after)) (\(String(format: "%.1f", 100 * Double(after) / Double(max(1, before))))% of the fp32 file's \(Format.bytes(before)))")
        print("calibration \(String(format: "%.1f", r.seconds)) s; fp32/int8 mask agreement \(String(format: "%.4f", r.maskAgreement)); logits SQNR \(String(format: "%.1f", r.outputSQNR)) dB")
    }

    /// Calibration tensors: each image converted to the model's channels, resized to its training size,
    /// normalized, padded to its multiple, exactly as inference sees it.
    func loadCalibration(_ model: Model) throws -> [Tensor] {
        var folder = calib
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("\(calib): no such folder")
        }
        if VolumeDataset.holdsVolumes(folder) { return try volumeCalibration(model) }
        if model.inputSpatialRank == 3 {
            throw CLIError("\(calib): no volumes to calibrate a 3D model on (images/ or imagesTr/ with .nii, .nii.gz or .nrrd files)")
        }
        if FileManager.default.fileExists(atPath: folder + "/images", isDirectory: &isDirectory), isDirectory.boolValue { folder += "/images" }
        var paths = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter(ImageFile.looksLikeImage).sorted().map { folder + "/" + $0 }
        if paths.isEmpty, let index = try? DatasetIndex.scan(calib) {
            // Another dataset layout (UW-Madison's scans/ folders, nnU-Net's imagesTr): images spread evenly over its cases.
            let all = index.cases.map { $0.images[0] }
            let n = min(images, all.count)
            paths = (0..<n).map { all[$0 * all.count / max(1, n)] }
        }
        if paths.isEmpty { throw CLIError("\(folder): no PNG or JPEG images to calibrate on (the calibration set is empty)") }
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: 1) } catch { throw CLIError("\(error)") }
        var tensors: [Tensor] = []
        for path in paths.prefix(images) {
            let image: Image
            do { image = try ImageFile.read(path).converted(toChannels: model.inputChannels) } catch { throw CLIError("\(error)") }
            var x = Tensor(shape: TensorShape(batch: 1, channels: model.inputChannels, height: image.height, width: image.width), data: image.planar)
            if let size = model.inputSize { x = TensorOps.resize(x, height: size.height, width: size.width) }
            tensors.append(TensorOps.padToMultiple(segmenter.normalize(x), model.inputMultiple))
        }
        return tensors
    }

    /// Calibration slices from a dataset of volumes: `images` slices spread evenly over its cases, each as
    /// predict makes it (the model's window, spacing and axis); for a 3D model, windows of its patch.
    func volumeCalibration(_ model: Model) throws -> [Tensor] {
        let cases: [VolumeCase]
        do { cases = try VolumeDataset.scan(calib) } catch { throw CLIError("\(error)") }
        if cases.isEmpty { throw CLIError("\(calib): no volumes to calibrate on (the calibration set is empty)") }
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: 1) } catch { throw CLIError("\(error)") }
        let run = VolumeSegmentation(segmenter: segmenter)
        var tensors: [Tensor] = []
        for (k, c) in cases.enumerated() {
            let share = images / cases.count + (k < images % cases.count ? 1 : 0)
            if share == 0 { continue }
            do {
                let image = try c.readImage()
                if model.inputSpatialRank == 3 {
                    // 3D models calibrate on windows of their training patch (`VolumeSegmentation.inputPatches`).
                    tensors += run.inputPatches(image, count: share).map { segmenter.normalize($0) }
                    continue
                }
                for x in try run.inputSlices(image, count: share) {
                    var t = x
                    if let size = model.inputSize { t = TensorOps.resize(t, height: size.height, width: size.width) }
                    tensors.append(TensorOps.padToMultiple(segmenter.normalize(t), model.inputMultiple))
                }
            } catch { throw CLIError("\(error)") }
        }
        return tensors
    }
}
