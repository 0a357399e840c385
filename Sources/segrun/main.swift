import ArgumentParser
import Foundation
import Engine

struct Segrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segrun",
        abstract: "Medical image segmentation on CPUs: train, quantize and run U-Net-family models.",
        version: SegrunVersion.string,
        subcommands: [DemoCommand.self, SynthCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self, QuantizeCommand.self, CamCommand.self, InfoCommand.self, InitCommand.self, ImportCommand.self, ExportCommand.self, BenchCommand.self, ForwardCommand.self, PlanCommand.self])
}

// Line-buffered stdout, so results reach logs and pipes as they happen (progress goes to stderr).
setvbuf(stdout, nil, _IOLBF, 0)
Segrun.main()
