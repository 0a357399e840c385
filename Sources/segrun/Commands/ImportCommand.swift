import ArgumentParser
import Engine
import ONNX

/// `segrun import`: an ONNX model (PyTorch, MONAI, segmentation_models_pytorch exports) as a segrun model
/// file, which predict, eval, quantize, bench, segrun-edge and the C API then run like any other.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert an ONNX model (exported from PyTorch, MONAI, smp) into a segrun model file.",
        discussion: HelpText.discussion("""
            Constants and shape arithmetic are folded, Identity and Dropout removed; every other node maps onto
            one of segrun's operators or is refused with the reason (docs/ONNX.md lists them).

            Examples:
              segrun import unet.onnx --out unet.segrun
              segrun import monai.onnx --size 256x256 --mean 0.5 --std 0.25 --classes background,brain --out brain.segrun
            """))

    @Argument(help: "ONNX model file.")
    var onnx: String

    @Option(help: "Output segrun model file.")
    var out: String

    @Option(help: "Size to resolve symbolic input dims at: HxW (DxHxW for 3D models). Default: the file's static dims.")
    var size: String?

    @Option(help: "Per-channel input mean (comma-separated, one value or one per channel), on the [0, 1] pixel scale.")
    var mean: String?

    @Option(help: "Per-channel input std (comma-separated).")
    var std: String?

    @Option(help: "Class names, comma-separated, one per output channel.")
    var classes: String?

    @Option(help: "Probability threshold of binary masks.")
    var threshold: Float?

    func run() throws {
        var options = ONNXImportOptions(threshold: threshold)
        if let size {
            guard let axes = parseSpatialSize(size) else { throw CLIError("--size takes HxW or DxHxW, each side 1 to \(maxSide)") }
            options.size = axes
        }
        options.mean = try mean.map { try floats($0, "--mean") }
        options.std = try std.map { try floats($0, "--std") }
        options.classNames = classes.map { $0.split(separator: ",").map(String.init) }
        try prepareOutputFile(out)
        let result: ONNXImport
        do {
            result = try ONNXImporter.importFile(onnx, options: options)
        } catch {
            throw CLIError("\(onnx): \(error)")
        }
        let model = result.model
        do {
            try FileIO.writeModel(model, to: out)
            _ = try loadModelFile(out)
        } catch {
            throw CLIError("\(error)")
        }
        var kinds: [String: Int] = [:]
        for node in model.graph.nodes { kinds[node.op.kind, default: 0] += 1 }
        let listing = kinds.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.value) \($0.key)" }
        print("wrote \(out): \(model.graph.nodes.count) nodes (\(listing.joined(separator: ", "))), \(Format.count(Double(model.graph.parameterCount))) parameters, \(Format.bytes(fileSize(out) ?? 0))")
        print("input \(model.inputChannels) channels, multiple \(model.inputMultiple)\(model.inputSize.map { ", fixed size \($0.height)x\($0.width)" } ?? ""); output \(model.classes) classes")
        for note in result.notes { print("note: \(note)") }
    }

    private func floats(_ text: String, _ flag: String) throws -> [Float] {
        let values = text.split(separator: ",").map { Float($0) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw CLIError("\(flag) takes comma-separated numbers") }
        return values.map { $0! }
    }
}
