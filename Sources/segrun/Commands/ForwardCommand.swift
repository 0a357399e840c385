import ArgumentParser
import Engine
import Kernels

/// Writes a random input and the model's logits as raw tensor files, so another build (the Embedded
/// aarch64 runtime under qemu, in scripts/arm-check) can check that it computes the same output.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward", abstract: "Write a seeded random input and the model's raw logits (cross-build checks).",
        discussion: HelpText.discussion("""
            Example:
              segrun forward model.segrun --size 48x32 --batch 2 --input x.sgtn --output y.sgtn
            """),
        shouldDisplay: false)

    @Argument(help: "Model file.")
    var model: String

    @Option(help: "Input size, H, HxW or DxHxW for volume models (not padded: give a multiple of the model's input multiple).")
    var size: String = "32"

    @Option(help: "Batch size.")
    var batch: Int = 1

    @Option(help: "Seed of the random input.")
    var seed: UInt64 = 1

    @Option(help: "Input tensor file to write.")
    var input: String

    @Flag(help: "Run with the algorithms the executor measures and picks (Winograd included) instead of the implicit GEMM everywhere.")
    var measured = false

    @Option(help: "Read the input from this tensor file instead of drawing it (its shape overrides --size and --batch).")
    var from: String?

    @Option(help: "Output tensor file to write.")
    var output: String

    func run() throws {
        let model = try loadModelFile(self.model)
        let shape: TensorShape
        if let axes = parseSpatialSize(size), axes.count == 3 {
            shape = TensorShape(batch: batch, channels: model.inputChannels, depth: axes[0], height: axes[1], width: axes[2])
        } else if let (h, w) = parseSize(size) {
            shape = TensorShape(batch: batch, channels: model.inputChannels, height: h, width: w)
        } else {
            throw CLIError("--size takes H, HxW or DxHxW, each side 1 to \(maxSide)")
        }
        var x = Tensor(zeros: shape)
        if let from {
            do { x = try TensorFile.read(from) } catch { throw CLIError("\(from): \(error)") }
            if x.shape.channels != model.inputChannels { throw CLIError("\(from) has \(x.shape.channels) channels, the model takes \(model.inputChannels)") }
        } else {
            var random = SeededGenerator(seed: seed)
            for i in 0..<x.data.count { x.data[i] = (random.uniform() + 1) / 2 }
        }
        do {
            let y = try Executor(model: model, threads: 1, policy: measured ? .measured : .forced(.igemm)).run(x)[0]
            try TensorFile.write(x, to: input)
            try TensorFile.write(y, to: output)
            print("wrote \(input) (\(x.shape)) and \(output) (\(y.shape))")
        } catch {
            throw CLIError("\(error)")
        }
    }
}
