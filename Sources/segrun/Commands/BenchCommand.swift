import ArgumentParser
import Foundation
import Kernels
import Engine
import Quant
import Train
import SegrunBenchmarks

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel or model speed: median time, GFLOP/s and percent of this machine's peak.",
        discussion: HelpText.discussion("""
            Peak is measured on this machine by a built-in FMA throughput probe, so percentages hold on any CPU.
            FLOPs are counted as a direct convolution performs them, for every algorithm.

            Examples:
              segrun bench --kernels
              segrun bench --kernels --threads 1 --algorithm winograd-f4 --json
              segrun bench --kernels --layer "3x3 64->64 @128"
              segrun bench --kernels --precision int8 --threads 1
              segrun bench --kernels --dims 3 --layer unet3d-s
              segrun bench --preset unet-s --size 256 --threads 1,2 --batch 1
              segrun bench model.segrun --size 512x384 --threads 2 --json
              segrun bench --train --preset unet-s --size 256 --batch 4 --threads 1,2
            """))

    @Argument(help: "Model file to benchmark (or use --preset).")
    var model: String?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Model input size, H or HxW.")
    var size: String = "256"

    @Option(help: "Batch size of the model benchmark.")
    var batch: Int = 1

    @Option(help: "Precision of the model benchmark: auto (the model file's own), fp32, or int8 (an fp32 model or preset is first quantized on 8 random images: for speed only). With --kernels, int8 measures the int8 kernels against the fastest fp32 algorithm of each layer.")
    var precision: String = "auto"

    @Flag(help: "Benchmark training steps (forward, BCE+Dice, backward, Adam) of the model instead of inference.")
    var train = false

    @Flag(help: "With --train: also list the graph's nodes with their forward and backward milliseconds per step.")
    var nodes = false

    @Option(help: "Training steps to time (after one warm-up step).")
    var steps: Int = 5

    @Option(help: "Convolutions of a --train benchmark: auto (the default of segrun train), winograd-f4, winograd-f2 or igemm.")
    var conv: String?

    @Flag(help: "Benchmark the convolution kernels on the layer shapes of a base-32 U-Net at 256x256.")
    var kernels = false

    @Option(help: "With --kernels: 2 (the 2D layers), or 3: the 3D convolutions of the 3D presets (unet3d-s on its 64^3 window, vnet-s, res-unet3d-s), each as the runtime runs it.")
    var dims = 2

    @Option(help: "Thread counts to measure, comma separated (default: 1 and all cores).")
    var threads: String?

    @Option(help: "Only this algorithm: igemm, gemm1x1, depthwise, winograd-f2, winograd-f4, winograd-f6, winograd-f4-narrow.")
    var algorithm: String?

    @Option(help: "Only layers whose name contains this text; a 2D shape written as \"KxK IN->OUT @SIZE\" that no listed layer has is measured as given.")
    var layer: String?

    @Option(help: "Seconds of measurement per point (more is steadier).")
    var seconds: Double = 0.25

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    func validate() throws {
        if let conv, TrainingConvolutions(name: conv) == nil { throw ValidationError("--conv takes \(TrainingConvolutions.names.joined(separator: ", "))") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if !kernels && model == nil && modelOptions.preset == nil {
            throw ValidationError("choose what to benchmark: a model file, --preset NAME, or --kernels")
        }
        if parseSize(size) == nil { throw ValidationError("--size takes H or HxW, each side 1 to \(maxSide), e.g. 256 or 512x384") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !["auto", "fp32", "int8"].contains(precision) { throw ValidationError("--precision takes auto, fp32 or int8") }
        if let algorithm, ConvAlgorithm(name: algorithm) == nil, !Int8KernelBenchmark.algorithms.contains(algorithm) { throw ValidationError("unknown algorithm '\(algorithm)'") }
        if let threads, threadCounts(threads) == nil { throw ValidationError("--threads takes integers from 1 to \(ParallelFor.maxThreads) separated by commas") }
        if dims != 2 && dims != 3 { throw ValidationError("--dims takes 2 or 3") }
        if dims == 3 && !kernels { throw ValidationError("--dims 3 goes with --kernels (a 3D model: --preset unet3d-s --size 128)") }
        if dims == 3 && precision == "int8" { throw ValidationError("--kernels --dims 3 measures fp32; the int8 3D layers run through the 2D int8 kernels (--kernels --precision int8)") }
    }

    func threadCounts(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ (1...ParallelFor.maxThreads).contains($0 ?? 0) }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        guard CompiledISA.hasFMA else {
            throw CLIError("segrun was built without FMA (\(CompiledISA.name)); rebuild with the default SEGRUN_TARGET_CPU=native or a named CPU")
        }
        let machine = MachineInfo.current()
        let counts = threads.flatMap(threadCounts) ?? Array(Set([1, machine.cores])).sorted()
        var peaks: [Int: Double] = [:]
        if !train { for t in counts { peaks[t] = MachinePeak.measure(threads: t) } }
        if train {
            try runTraining(machine: machine, counts: counts)
            return
        }
        if !kernels {
            try runModel(machine: machine, counts: counts, peaks: peaks)
            return
        }
        let stderr = FileHandle.standardError
        let header = "CPU: \(machine.cpuModel) | compiled ISA: \(machine.compiledISA) | cores: \(machine.cores) | peak: "
            + counts.map { "\(String(format: "%.1f", peaks[$0]!)) GFLOP/s @\($0)t" }.joined(separator: ", ")
            + " | streamed writes (\(StreamedWriteProbe.bytes >> 20) MiB): "
            + counts.map { "\(String(format: "%.1f", StreamedWriteProbe.measure(threads: $0))) GB/s @\($0)t" }.joined(separator: ", ")
        if json {
            stderr.write((header + "\n").data(using: .utf8)!)
        } else {
            print(header)
            print("layer".padding(toLength: dims == 3 ? 41 : 25, withPad: " ", startingAt: 0) + "algorithm          threads   median ms    GFLOP/s   % peak")
        }
        func printRow(_ m: KernelMeasurement, width: Int) {
            if json {
                print(m.json)
            } else {
                print(m.name.padding(toLength: width, withPad: " ", startingAt: 0) + " "
                      + m.algorithm.padding(toLength: 18, withPad: " ", startingAt: 0)
                      + String(format: " %7d %11.3f %10.1f %7.1f%%", m.threads, m.medianSeconds * 1e3, m.gflops, m.percentPeak))
            }
            fflush(stdout)
        }
        if dims == 3 {
            var layers = VolumeKernelBenchmark.presetLayers()
            if let layer { layers = layers.filter { $0.name.contains(layer) } }
            try VolumeKernelBenchmark.run(layers: layers, threadCounts: counts, only: algorithm.flatMap(ConvAlgorithm.init(name:)),
                                          peaks: peaks, minSeconds: seconds) { printRow($0, width: 40) }
            return
        }
        var layers = KernelBenchmark.unetLayers()
        if let layer {
            layers = layers.filter { $0.0.contains(layer) }
            // A shape written out ("3x3 16->16 @256") that no listed layer has is measured as given.
            if layers.isEmpty, let shape = KernelBenchmark.layer(named: layer) { layers = [shape] }
        }
        if precision == "int8" {
            try runInt8Kernels(layers: layers, counts: counts, peaks: peaks, header: header)
            return
        }
        KernelBenchmark.run(layers: layers, threadCounts: counts, only: algorithm.flatMap(ConvAlgorithm.init(name:)),
                            peaks: peaks, minSeconds: seconds) { printRow($0, width: 24) }
    }

    func runTraining(machine: MachineInfo, counts: [Int]) throws {
        let (model, label, _) = try modelOptions.load(self.model)
        if model.precision == "int8" { throw CLIError("\(label) is an int8 model; training needs fp32") }
        let (h, w) = parseSize(size)!
        let m = model.inputMultiple
        let ph = (h + m - 1) / m * m, pw = (w + m - 1) / m * m
        let algorithm = conv.flatMap(TrainingConvolutions.init(name:)) ?? TrainingOptions().convolutions
        let header = "CPU: \(machine.cpuModel) | compiled ISA: \(machine.compiledISA) | training: \(label) | batch \(batch) at \(model.inputSpatialRank == 3 ? "\(ph)x" : "")\(ph)x\(pw)"
            + " | Adam, \(model.classes == 1 ? "BCE+Dice" : "CE+Dice") | convolutions: \(algorithm)"
        if json { FileHandle.standardError.write((header + "\n").data(using: .utf8)!) } else {
            print(header)
            print("threads  batch   step ms   images/s   forward ms  backward ms  optimizer ms  steps")
        }
        var results: [TrainingBenchmark.Result] = []
        defer { if nodes && !json { printNodes(results) } }
        for t in counts {
            let r: TrainingBenchmark.Result
            do {
                r = try TrainingBenchmark.run(model, height: ph, width: pw, depth: model.inputSpatialRank == 3 ? ph : nil, batch: batch, threads: t,
                                              steps: steps, convolutions: algorithm)
            }
            catch { throw CLIError("\(error)") }
            results.append(r)
            if json {
                print(String(format: "{\"threads\": %d, \"batch\": %d, \"step_ms\": %.1f, \"images_per_s\": %.3f, \"forward_ms\": %.1f, \"backward_ms\": %.1f, \"optimizer_ms\": %.1f, \"steps\": %d}",
                             t, batch, r.stepSeconds * 1e3, r.imagesPerSecond, r.forwardSeconds * 1e3, r.backwardSeconds * 1e3, r.optimizerSeconds * 1e3, steps))
            } else {
                print(String(format: "%7d %6d %9.1f %10.2f %12.1f %12.1f %13.1f %6d", t, batch, r.stepSeconds * 1e3, r.imagesPerSecond,
                             r.forwardSeconds * 1e3, r.backwardSeconds * 1e3, r.optimizerSeconds * 1e3, steps))
            }
            fflush(stdout)
        }
    }

    /// Per node: forward and backward milliseconds per step at each thread count, slowest first.
    func printNodes(_ results: [TrainingBenchmark.Result]) {
        guard let first = results.first else { return }
        print("\nnode".padding(toLength: 34, withPad: " ", startingAt: 0) + "op".padding(toLength: 18, withPad: " ", startingAt: 0)
              + results.map { "fwd ms @\($0.threads)t  bwd ms @\($0.threads)t  " }.joined())
        let order = first.nodes.indices.sorted { first.nodes[$0].forward + first.nodes[$0].backward > first.nodes[$1].forward + first.nodes[$1].backward }
        for i in order where first.nodes[i].forward + first.nodes[i].backward > 0.0005 {
            let n = first.nodes[i]
            print(n.name.padding(toLength: 33, withPad: " ", startingAt: 0) + " " + n.op.padding(toLength: 18, withPad: " ", startingAt: 0)
                  + results.map { String(format: "%10.1f %11.1f  ", $0.nodes[i].forward * 1e3, $0.nodes[i].backward * 1e3) }.joined())
        }
    }

    /// The int8 kernels on each layer, each row with its ratio to the fastest fp32 algorithm of that layer
    /// and thread count, measured just before it.
    func runInt8Kernels(layers: [(String, Conv2dGeometry)], counts: [Int], peaks: [Int: Double], header: String) throws {
        if let algorithm, !Int8KernelBenchmark.algorithms.contains(algorithm) {
            throw CLIError("with --precision int8, --algorithm takes \(Int8KernelBenchmark.algorithms.joined(separator: " or "))")
        }
        var int8Peaks: [Int: Double] = [:]
        for t in counts { int8Peaks[t] = MachinePeak.measureInt8(threads: t) }
        let int8Header = "int8: \(MachinePeak.int8ProbeName) | int8 peak: "
            + counts.map { "\(String(format: "%.1f", int8Peaks[$0]!)) GOP/s @\($0)t" }.joined(separator: ", ")
            + " | GOP/s count 2 ops per multiply-add of a direct convolution"
        if json {
            FileHandle.standardError.write((int8Header + "\n").data(using: .utf8)!)
        } else {
            print(int8Header)
            print("layer                    algorithm          threads   median ms      GOP/s  % int8 peak   best fp32 ms   vs fp32")
        }
        for layer in layers {
            var fp32: [Int: Double] = [:]
            KernelBenchmark.run(layers: [layer], threadCounts: counts, peaks: peaks, minSeconds: seconds) { m in
                fp32[m.threads] = min(fp32[m.threads] ?? .infinity, m.medianSeconds)
            }
            try Int8KernelBenchmark.run(layers: [layer], threadCounts: counts, only: algorithm, peaks: int8Peaks, minSeconds: seconds) { m in
                let best = fp32[m.threads] ?? .nan
                if json {
                    print(m.json.dropLast() + String(format: ",\"best_fp32_s\":%.6g,\"speedup_vs_fp32\":%.4g}", best, best / m.medianSeconds))
                } else {
                    print(m.name.padding(toLength: 24, withPad: " ", startingAt: 0) + " "
                          + m.algorithm.padding(toLength: 18, withPad: " ", startingAt: 0)
                          + String(format: " %7d %11.3f %10.1f %11.1f%% %14.3f %8.2fx", m.threads, m.medianSeconds * 1e3, m.gflops,
                                   m.percentPeak, best * 1e3, best / m.medianSeconds))
                }
                fflush(stdout)
            }
        }
    }

    func runModel(machine: MachineInfo, counts: [Int], peaks: [Int: Double]) throws {
        var (model, label, _) = try modelOptions.load(self.model)
        if precision == "fp32" && model.precision == "int8" { throw CLIError("\(label) is an int8 model; --precision fp32 needs the fp32 file") }
        if precision == "int8" && model.precision != "int8" {
            // Speed does not depend on the calibration data: quantize on random images of the benchmark's size.
            let (h, w) = parseSize(size)!
            let m = model.inputMultiple
            var state: UInt32 = 99
            let images = (0..<8).map { _ -> Tensor in
                let shape = TensorShape(batch: 1, channels: model.inputChannels, height: (h + m - 1) / m * m, width: (w + m - 1) / m * m)
                return Tensor(shape: shape, data: (0..<shape.elementCount).map { _ in
                    state = state &* 1_664_525 &+ 1_013_904_223
                    return Float(state >> 8) / Float(1 << 24)
                })
            }
            do { model = try Quantizer.quantize(model, calibration: images).model } catch { throw CLIError("\(error)") }
            label += " (int8, random calibration)"
        }
        let name = modelOptions.preset ?? label
        let (h, w) = parseSize(size)!
        let m = model.inputMultiple
        let ph = (h + m - 1) / m * m, pw = (w + m - 1) / m * m
        let volume = model.inputSpatialRank == 3 ? "\(ph)x" : ""
        let header = "CPU: \(machine.cpuModel) | compiled ISA: \(machine.compiledISA) | model: \(label) | input \(batch)x\(model.inputChannels)x\(volume)\(ph)x\(pw)"
            + " | peak: " + counts.map { "\(String(format: "%.1f", peaks[$0]!)) GFLOP/s @\($0)t" }.joined(separator: ", ")
        if json {
            FileHandle.standardError.write((header + "\n").data(using: .utf8)!)
        } else {
            print(header)
            print("threads  batch   median ms   images/s    GFLOP/s   % peak   planned MiB  measured MiB  runs")
        }
        for t in counts {
            let r = try ModelBenchmark.run(model, name: name, height: ph, width: pw, batch: batch, threads: t,
                                           peakGFLOPs: peaks[t]!, minSeconds: max(seconds, 1))
            if json {
                print(r.json)
            } else {
                print(String(format: "%7d %6d %11.2f %10.1f %10.1f %7.1f%% %13.1f %13.1f %5d", t, batch, r.medianSeconds * 1e3,
                             Double(batch) / r.medianSeconds, r.gflops, r.percentPeak,
                             Double(r.plannedPeakBytes) / 1_048_576, Double(r.measuredPeakBytes) / 1_048_576, r.runs))
                if t == counts.last {
                    print(String(format: "activation arena %.1f MiB (%.1f MiB with one buffer per tensor)",
                                 Double(r.arenaBytes) / 1_048_576, Double(r.unsharedActivationBytes) / 1_048_576))
                }
            }
            fflush(stdout)
        }
    }
}
