import ArgumentParser
import Engine

struct Segrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segrun",
        abstract: "Medical image segmentation on CPUs: train, quantize and run U-Net-family models.",
        version: SegrunVersion.string,
        subcommands: [DemoCommand.self, SynthCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self, InfoCommand.self, InitCommand.self, BenchCommand.self, ForwardCommand.self])
}

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run the whole product end to end on built-in defaults (not yet built).")

    func run() throws {
        print("segrun demo: not yet built. The kernels are in place (try `segrun bench --kernels`);")
        print("training, quantization and the end-to-end demo arrive with the Engine, Train, Quant and Product issues.")
    }
}

Segrun.main()
