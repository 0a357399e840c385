import ArgumentParser
import Foundation
import Engine

/// The whole product on built-in defaults: synthesize lesions, train, evaluate, predict with overlays,
/// benchmark. Each step is the same subcommand a user would type, so the demo shows them how.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the main job end to end on built-in defaults: synth, train, eval, predict, bench.",
        discussion: """
            Default: 160 synthetic lesion images at 128x128, U-Net (unet-xs: base 16, depth 3), 12 epochs, about
            2-3 minutes on 2 cores. --quick: 48 images at 64x64, 4 epochs, under a minute (CI smoke test).
            The full-size recipe: segrun synth --out data --count 1000 --size 256, then
            segrun train --data data --preset unet-s --size 256 --epochs 50 --out runs/full.
            int8 quantization joins the demo with the Quant issue.
            """)

    @Option(help: "Output folder for the data, the run, masks and overlays.")
    var out: String = "segrun-demo"

    @Option(help: "Use this dataset folder instead of synthesizing lesions.")
    var data: String?

    @Flag(help: "A smaller run that finishes in under a minute.")
    var quick = false

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        let count = quick ? 48 : 160, size = quick ? 64 : 128, epochs = quick ? 4 : 12
        let threadArgs = threads.map { ["--threads", "\($0)"] } ?? []
        let dataDir = data ?? out + "/data"
        let run = out + "/run"
        func step(_ title: String) { print("\n== \(title)") }
        let start = Date()
        if data == nil {
            step("1. synthesize \(count) lesion images at \(size)x\(size) (segrun synth)")
            try SynthCommand.parse(["--out", dataDir, "--count", "\(count)", "--size", "\(size)", "--seed", "1", "--kind", "lesion"]).run()
        }
        step("2. train unet-xs for \(epochs) epochs (segrun train)")
        try? FileManager.default.removeItem(atPath: run)
        try TrainCommand.parse(["--data", dataDir, "--preset", "unet-xs", "--size", "\(size)", "--epochs", "\(epochs)", "--batch", "8",
                                "--lr", "0.002", "--val", "random:0.2", "--seed", "1", "--out", run] + threadArgs).run()
        step("3. evaluate fp32 on every image at its own size (segrun eval)")
        try EvalCommand.parse([run + "/best.segrun", "--data", dataDir] + threadArgs).run()
        step("4. masks and overlays (segrun predict)")
        try PredictCommand.parse([run + "/best.segrun", dataDir + "/images", "--out", out + "/masks", "--overlay", "--overlay-style", "tint"] + threadArgs).run()
        step("5. speed (segrun bench)")
        try BenchCommand.parse([run + "/best.segrun", "--size", "\(size)", "--seconds", "0.5"] + threadArgs).run()
        print(String(format: "\ndemo finished in %.0f s. Learning curves: %@/curves.svg; overlays: %@/masks/*_overlay.png; model: %@/best.segrun",
                     Date().timeIntervalSince(start), run, out, run))
    }
}
