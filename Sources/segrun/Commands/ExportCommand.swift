import ArgumentParser
import Engine
import ONNX

/// `segrun export --onnx`: a segrun model as a standard ONNX file for ONNX Runtime, TFLite (via onnx2tf),
/// ncnn (via pnnx) or any other runtime.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a segrun model as an ONNX file (opset 17) that other runtimes run.",
        discussion: HelpText.discussion("""
            The model's metadata (classes, normalization, threshold) goes into the file's metadata_props, which
            `segrun import` reads back. Outputs are logits, as in segrun.

            Examples:
              segrun export brain.segrun --onnx brain.onnx
              segrun export pspnet.segrun --onnx pspnet.onnx --size 256x256
            """))

    @Argument(help: "segrun model file.")
    var model: String

    @Option(help: "ONNX file to write.")
    var onnx: String

    @Option(help: "Fix the input's spatial size (HxW or DxHxW); default symbolic. PSPNet's pyramid pooling needs it.")
    var size: String?

    func run() throws {
        let model = try loadModelFile(self.model)
        var dims: [Int]?
        if let size {
            guard let axes = parseSpatialSize(size) else { throw CLIError("--size takes HxW or DxHxW") }
            dims = axes
        }
        do {
            let bytes = try ONNXExporter.export(model, size: dims)
            try FileIO.writeAtomically(bytes, to: onnx)
            print("wrote \(onnx): ONNX opset \(ONNXExporter.opset), \(model.graph.nodes.count) segrun nodes, \(Format.bytes(bytes.count))")
        } catch {
            throw CLIError("\(self.model): \(error)")
        }
    }
}
