import ArgumentParser
import Foundation
import Engine
import Train
import SegrunBenchmarks
import Volumes

/// The whole product on built-in defaults: a real scan built into the binary (or synthetic lesions), train,
/// evaluate on held-out slices, quantize, predict with overlays, benchmark. Each step is the same subcommand a
/// user would type, so the demo shows them how.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the main job end to end on built-in defaults: a real MRI, train, eval, quantize, predict, bench.",
        discussion: HelpText.discussion("""
            Default: brain extraction on a real scan built into segrun, 48 axial slices of one T1 MRI (Colin27,
            128x128, with brain masks; BSD-3-clause, from Debian's mricron-data), U-Net (unet-xs: base 16,
            depth 3), 40 epochs on 30 slices, scored on the 12 held out (3 runs of 4 slices, their 6 neighbours
            kept out of training), about 1.5 minutes on 2 cores. --synthetic: 160 synthetic lesion images at
            128x128, 12 epochs. --quick: 48 synthetic images at 64x64, 4 epochs, under 10 seconds (CI smoke
            test). The trained model is then quantized to int8 (calibrated on 32 images), evaluated again, and
            both are benchmarked; the demo ends with a table of fp32 against int8 and writes report.html (the
            table, learning curves, best and worst cases with overlays, Grad-CAM pictures).

            Examples:
              segrun demo
              segrun demo --synthetic --out /tmp/lesion-demo
              segrun demo --quick --out /tmp/demo
              segrun demo --data ../shared/data/mni-tissue --out tissue-demo
            """))

    @Option(help: "Output folder for the data, the run, masks and overlays.")
    var out: String = "segrun-demo"

    @Option(help: "Use this dataset folder instead of the built-in brain MRI slices.")
    var data: String?

    @Flag(help: "Learn synthetic lesions instead of the built-in brain MRI slices.")
    var synthetic = false

    @Flag(help: "A smaller run that finishes in seconds (CI smoke test): 4 epochs, on synthetic lesions unless --data is given.")
    var quick = false

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, !(1...ParallelFor.maxThreads).contains(threads) { throw ValidationError("--threads takes 1 to \(ParallelFor.maxThreads)") }
        if data != nil && synthetic { throw ValidationError("--data takes the place of the built-in data: drop --synthetic") }
    }

    func run() throws {
        // The built-in real scan by default; synthetic lesions with --synthetic or --quick; or the user's folder.
        let builtIn = data == nil && !synthetic && !quick
        let count = quick ? 48 : 160, size = quick ? 64 : 128, epochs = quick ? 4 : builtIn ? 40 : 12
        let threadArgs = threads.map { ["--threads", "\($0)"] } ?? []
        let dataDir = data ?? out + "/data"
        let run = out + "/run"
        func step(_ title: String) { print("\n== \(title)") }
        let start = Date()
        let what = builtIn ? DemoData.description : data == nil ? "\(count) synthetic lesion images at \(size)x\(size)" : dataDir
        print("segrun demo: \(what), unet-xs (U-Net, base 16, depth 3), \(epochs) epochs, then int8. Chosen to learn for real in minutes on 2 cores.")
        if builtIn { print("Data: \(DemoData.license).") }
        print("Full-size recipe: segrun train --data ../shared/data/brain-mask --preset unet-s --size 256 --epochs 50 --out runs/full && "
              + "segrun quantize runs/full/best.segrun --calib ../shared/data/brain-mask --out runs/full/int8.segrun")
        if builtIn {
            step("1. write the built-in brain MRI slices and masks to \(dataDir)")
            try DemoData.write(to: dataDir)
        } else if data == nil {
            step("1. synthesize \(count) lesion images at \(size)x\(size) (segrun synth)")
            try SynthCommand.parse(["--out", dataDir, "--count", "\(count)", "--size", "\(size)", "--seed", "1", "--kind", "lesion"]).run()
        }
        // The slices of a scan: held-out runs of 4 slices with their neighbours kept out of training, so the
        // validation slices are not near-copies of training ones. Synthetic images are independent.
        let split = builtIn ? "stripes:0.25:3" : "random:0.2"
        step("2. train unet-xs for \(epochs) epochs, \(builtIn ? "holding out 3 runs of 4 slices" : "holding out 20%") (segrun train)")
        try? FileManager.default.removeItem(atPath: run)
        try TrainCommand.parse(["--data", dataDir, "--preset", "unet-xs", "--size", "\(size)", "--epochs", "\(epochs)", "--batch", "8",
                                "--lr", "0.002", "--val", split, "--seed", "1", "--out", run] + threadArgs).run()
        // The built-in scan is scored on its held-out slices; other data on every image.
        let scored = builtIn ? ["--val", "train"] : []
        step("3. evaluate fp32 on " + (builtIn ? "the held-out slices" : "every image at its own size") + " (segrun eval)")
        let fp32Path = run + "/best.segrun", int8Path = run + "/best-int8.segrun"
        let fp32Scores = try EvalCommand.parse([fp32Path, "--data", dataDir] + scored + threadArgs).evaluate()
        step("4. quantize to int8, calibrated on 32 images (segrun quantize)")
        try QuantizeCommand.parse([fp32Path, "--calib", dataDir, "--images", "32", "--out", int8Path] + threadArgs).run()
        step("5. evaluate int8 (segrun eval)")
        let int8Scores = try EvalCommand.parse([int8Path, "--data", dataDir] + scored + threadArgs).evaluate()
        step("6. masks and overlays from the int8 model (segrun predict)")
        let images = FileManager.default.fileExists(atPath: dataDir + "/imagesTr") ? dataDir + "/imagesTr" : dataDir + "/images"
        try PredictCommand.parse([int8Path, images, "--out", out + "/masks", "--overlay", "--overlay-style", "tint", "--no-resume"] + threadArgs).run()
        step("7. speed (segrun bench)")
        let machine = MachineInfo.current()
        let threadCount = threads ?? ParallelFor.coreCount
        let peak = MachinePeak.measure(threads: threadCount)
        var latency: [Double] = []
        for path in [fp32Path, int8Path] {
            let model = try loadModelFile(path)
            let m = try ModelBenchmark.run(model, name: path, height: size, width: size, batch: 1, threads: threadCount,
                                           peakGFLOPs: peak, minSeconds: quick ? 0.3 : 1)
            latency.append(m.medianSeconds)
        }
        let sizes = [fileSize(fp32Path) ?? 0, fileSize(int8Path) ?? 0]
        print("CPU: \(machine.cpuModel) | compiled ISA: \(machine.compiledISA) | \(threadCount) thread(s) | input 1x\(size)x\(size)")
        print("")
        func padded(_ s: String) -> String { s + String(repeating: " ", count: max(0, 11 - s.count)) }
        print("model   pooled Dice  pooled IoU  file        latency ms   speedup")
        print(String(format: "fp32    %.4f       %.4f      ", fp32Scores.pooledDice, fp32Scores.pooledIoU) + padded(Format.bytes(sizes[0]))
              + String(format: " %9.2f    1.00x", latency[0] * 1e3))
        print(String(format: "int8    %.4f       %.4f      ", int8Scores.pooledDice, int8Scores.pooledIoU) + padded(Format.bytes(sizes[1]))
              + String(format: " %9.2f    %.2fx", latency[1] * 1e3, latency[0] / latency[1]))
        print(String(format: "int8 file: %.1f%% of fp32; pooled Dice change %+.4f", 100 * Double(sizes[1]) / Double(max(1, sizes[0])),
                     int8Scores.pooledDice - fp32Scores.pooledDice))
        let classNames = DemoReport.classNames(try loadModelFile(fp32Path))
        print("pooled Dice per class (fp32 / int8): " + fp32Scores.perClass.indices.map { i in
            String(format: "%@ %.4f / %.4f", classNames[i], fp32Scores.perClass[i].pooledDice ?? 0, int8Scores.perClass[i].pooledDice ?? 0)
                + (fp32Scores.perClass[i].neverPredicted ? " (never predicted)" : "")
        }.joined(separator: ", "))

        let volumes = VolumeDataset.holdsVolumes(dataDir)
        step("8. report (report.html: the table, learning curves, " + (volumes ? "a montage of each case)" : "best and worst cases, Grad-CAM)"))
        var report = DemoReport()
        report.title = "segrun demo" + (quick ? " (quick)" : "")
        report.machine = "CPU: \(machine.cpuModel) · compiled ISA: \(machine.compiledISA) · \(threadCount) thread(s)"
        report.settings = [builtIn ? "\(DemoData.description); \(DemoData.license)" : data == nil ? "\(count) synthetic lesion images at \(size)x\(size)" : "data: \(dataDir)",
                           "unet-xs, \(epochs) epochs", builtIn ? "scores on the 12 held-out slices" : "scores on every image",
                           "int8: percentile 99.99 calibration on 32 images"]
        report.rows = [DemoReport.Row(name: "fp32", scores: fp32Scores, bytes: sizes[0], latency: latency[0]),
                       DemoReport.Row(name: "int8", scores: int8Scores, bytes: sizes[1], latency: latency[1])]
        report.curvesSVG = try? String(contentsOfFile: run + "/curves.svg", encoding: .utf8)
        var heldOut: Set<String>?
        if builtIn {
            let stems = DemoBrainSlices.slices.map(\.name).sorted()
            heldOut = Set(try ValidationSplit.parse(split, seed: 1).split(names: stems).validation.map { stems[$0] })
        }
        try report.write(to: out + "/report.html", dataDir: dataDir, model: try loadModelFile(int8Path), explainer: try loadModelFile(fp32Path),
                         from: heldOut)
        print("wrote \(out)/report.html")
        print(String(format: "\ndemo finished in %.0f s. Report: %@/report.html. Learning curves: %@/curves.svg; overlays: %@/masks/*_%@.png; models: %@/best.segrun, %@/best-int8.segrun",
                     Date().timeIntervalSince(start), out, run, out, volumes ? "montage" : "overlay", run, run))
    }
}
