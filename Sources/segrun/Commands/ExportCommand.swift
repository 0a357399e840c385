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
            `segrun import` reads back. Outputs are logits, as in segrun. An int8 model (from `segrun quantize`)
            is written as QDQ, as ONNX Runtime's quantizer writes it: int8 weights and Int32 biases behind
            DequantizeLinear with per-channel scales, and QuantizeLinear/DequantizeLinear with segrun's scale and
            zero point on every 8-bit activation.

            Examples:
              segrun export brain.segrun --onnx brain.onnx
              segrun export brain-int8.segrun --onnx brain-int8.onnx --int8
              segrun export pspnet.segrun --onnx pspnet.onnx --size 256x256
            """))

    @Argument(help: "segrun model file.")
    var model: String

    @Option(help: "ONNX file to write.")
    var onnx: String

    @Option(help: "Fix the input's spatial size (HxW or DxHxW); default symbolic. PSPNet's pyramid pooling needs it.")
    var size: String?

    @Flag(help: "Expect an int8 model and write it as QDQ (an fp32 model is refused instead of written as fp32).")
    var int8 = false

    func run() throws {
        let model = try loadModelFile(self.model)
        try prepareOutputFile(onnx)
        if int8 && model.precision != "int8" {
            throw CLIError("\(self.model) is an fp32 model; quantize it first (segrun quantize \(self.model) --calib DATA --out MODEL-int8.segrun)")
        }
        var dims: [Int]?
        if let size {
            guard let axes = parseSpatialSize(size) else { throw CLIError("--size takes HxW or DxHxW, each side 1 to \(maxSide)") }
            dims = axes
        }
        let bytes: [UInt8]
        do { bytes = try ONNXExporter.export(model, size: dims) } catch { throw CLIError("\(self.model): \(error)") }
        do { try FileIO.writeAtomically(bytes, to: onnx) } catch { throw CLIError("\(error)") }
        print("wrote \(onnx): ONNX opset \(ONNXExporter.opset)\(model.precision == "int8" ? ", int8 as QDQ" : ""), \(model.graph.nodes.count) segrun nodes, \(Format.bytes(bytes.count))")
    }
}
