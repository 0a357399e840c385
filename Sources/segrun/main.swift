import ArgumentParser
import Engine

struct Segrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segrun",
        abstract: "Medical image segmentation on CPUs: train, quantize and run U-Net-family models.",
        version: SegrunVersion.string,
        subcommands: [DemoCommand.self, SynthCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self, InfoCommand.self, InitCommand.self, BenchCommand.self, ForwardCommand.self])
}

Segrun.main()
