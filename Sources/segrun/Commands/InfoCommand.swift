import ArgumentParser
import Foundation
import Engine
import Kernels
import SegrunBenchmarks

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a model: architecture, layers, parameters, MACs, dtypes, memory, file size and metadata.",
        discussion: HelpText.discussion("""
            Examples:
              segrun info model.segrun
              segrun info model.segrun --size 512x384 --layers
              segrun info --preset unet-s
              segrun info model-int8.segrun --json
              segrun info --cpu
              segrun info runs/a/last.segrun --compare runs/b/last.segrun
            """))

    @Argument(help: "Model file.")
    var model: String?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Input size for MACs and memory, H or HxW.")
    var size: String = "256"

    @Flag(help: "List every layer with its output shape, parameters and MACs.")
    var layers = false

    @Flag(help: "Print one JSON object: architecture, precision, parameters, MACs, file size and metadata.")
    var json = false

    @Flag(help: "Describe this CPU and the kernel path this build runs on it, then exit.")
    var cpu = false

    @Option(help: "Compare the parameters with this model file's (same architecture): bitwise equal or not, and the largest difference relative to each tensor's largest magnitude.")
    var compare: String?

    func validate() throws {
        if parseSize(size) == nil { throw ValidationError("--size takes H or HxW, each side 1 to \(maxSide), e.g. 256 or 512x384") }
    }

    func run() throws {
        if cpu {
            printCPU()
            return
        }
        let (model, label, fileBytes) = try modelOptions.load(self.model)
        if let compare { return try compareParameters(model, label: label, with: compare) }
        let (h, w) = parseSize(size)!
        let multiple = model.inputMultiple
        let ph = (h + multiple - 1) / multiple * multiple, pw = (w + multiple - 1) / multiple * multiple
        // A volume model is shown on a volume whose depth is its height.
        let input = TensorShape(batch: 1, channels: model.inputChannels, depth: model.inputSpatialRank == 3 ? ph : nil, height: ph, width: pw)
        let m = model.metadata
        if json {
            let stats: [NodeStatistics]
            do { stats = try model.graph.statistics([input]) } catch { throw CLIError("\(error)") }
            let macs = stats.reduce(0) { $0 + $1.macs }
            var fields: [(String, String)] = [("model", JSON.string(label)), ("file_bytes", fileBytes.map(String.init) ?? "null"),
                                              ("architecture", JSON.string(m.string(MetadataKey.architecture) ?? "unknown")),
                                              ("precision", JSON.string(model.precision)), ("input_channels", "\(model.inputChannels)"),
                                              ("input_multiple", "\(multiple)"), ("classes", "\(model.classes)"),
                                              ("nodes", "\(stats.count)"), ("parameters", "\(model.graph.parameterCount)"),
                                              ("macs", String(format: "%.0f", macs)), ("size", JSON.string("\(h)x\(w)"))]
            fields.append(("layers", "[" + stats.map { JSON.object([("name", JSON.string($0.name)), ("op", JSON.string($0.kind))]) }.joined(separator: ", ") + "]"))
            fields.append(("metadata", JSON.object(m.entries.map { ($0.0, JSON.string($0.1.description)) })))
            print(JSON.object(fields))
            return
        }
        print("model:        \(label)")
        if let fileBytes { print("file size:    \(Format.bytes(fileBytes))") }
        let arch = m.string(MetadataKey.architecture).flatMap(Architecture.init(rawValue:))?.displayName ?? "unknown"
        print("architecture: \(arch)" + (m.string(MetadataKey.preset).map { " (preset \($0))" } ?? ""))
        print("input:        \(model.inputChannels) channel(s), " + (model.inputSpatialRank == 3 ? "volumes, D, H and W" : "H and W") + " padded to multiples of \(multiple)")
        if let patch = model.inputPatch {
            let spacing = m.floats(MetadataKey.inputVolumeSpacing).map { " at " + $0.reversed().map { String(format: "%g", $0) }.joined(separator: " x ") + " mm" } ?? ""
            print("patches:      trained on " + patch.map(String.init).joined(separator: "x") + " (z, y, x)\(spacing); predict slides Gaussian windows of that size")
        }
        let names = m.strings(MetadataKey.classNames)?.joined(separator: ", ") ?? ""
        print("output:       \(model.classes) class(es) [\(names)], " + (model.classes == 1 ? "sigmoid, threshold \(model.threshold)" : "softmax, argmax"))
        print("outputs:      \(model.graph.outputs.map { $0.name }.joined(separator: ", "))")

        let stats: [NodeStatistics]
        do { stats = try model.graph.statistics([input]) } catch { throw CLIError("\(error)") }
        var kinds: [String: Int] = [:]
        for s in stats { kinds[s.kind, default: 0] += 1 }
        print("layers:       \(stats.count) nodes: " + kinds.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        print("parameters:   \(Format.count(Double(model.graph.parameterCount))) (\(model.graph.parameterCount))")
        var dtypes: [String: Int] = [:]
        for p in model.graph.parameters {
            let name: String
            switch p.data { case .f32: name = "f32"; case .i8: name = "i8"; case .i32: name = "i32" }
            dtypes[name, default: 0] += p.elementCount
        }
        print("dtypes:       " + dtypes.sorted { $0.key < $1.key }.map { "\($0.key) \(Format.count(Double($0.value)))" }.joined(separator: ", "))
        let macs = stats.reduce(0) { $0 + $1.macs }
        let cube = model.inputSpatialRank == 3
        print("MACs:         \(Format.count(macs)) at \(cube ? "\(h)x" : "")\(h)x\(w) (run at \(cube ? "\(ph)x" : "")\(ph)x\(pw)), \(Format.count(2 * macs))FLOP")
        let inference = model.graph.optimizedForInference()
        print("inference:    \(inference.nodes.count) nodes after BatchNorm folding and activation fusion")
        if model.precision == "int8" {
            let table = (try? model.activationQuantization()) ?? nil
            let kept = m.strings(MetadataKey.quantKeptFloat) ?? []
            print("precision:    int8 (\(m.string(MetadataKey.quantMethod) ?? "unknown method"); \(table?.parameters.count ?? 0) int8 activation tensors; "
                  + "calibrated on \(m.int(MetadataKey.quantCalibrationImages) ?? 0) images, hash \(m.string(MetadataKey.quantCalibrationHash) ?? "-"); "
                  + (kept.isEmpty ? "no layers kept in fp32)" : "kept in fp32: \(kept.joined(separator: ", ")))"))
        } else {
            print("precision:    fp32")
        }
        if !m.entries.isEmpty {
            print("metadata:")
            for (key, value) in m.entries { print("  \(key) = \(value.description)") }
        }
        if layers {
            print("\nlayer                              op                    output            params        MACs")
            for s in stats {
                print(s.name.padding(toLength: 34, withPad: " ", startingAt: 0) + " "
                      + s.kind.padding(toLength: 21, withPad: " ", startingAt: 0) + " "
                      + s.shape.description.padding(toLength: 17, withPad: " ", startingAt: 0)
                      + String(repeating: " ", count: max(0, 7 - "\(s.parameters)".count)) + "\(s.parameters)"
                      + String(repeating: " ", count: 12 - min(11, Format.count(s.macs).count)) + Format.count(s.macs))
            }
        }
    }
}

extension InfoCommand {
    /// The CPU, its vector features, and the kernel path compiled into this build.
    func printCPU() {
        let machine = MachineInfo.current()
        let flags = machine.features
        print("CPU:          \(machine.cpuModel), \(machine.cores) core(s)")
        print("features:     " + ["sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "asimd", "asimddp"]
            .map { "\($0) \(flags.contains($0) ? "yes" : "no")" }.joined(separator: ", "))
        print("fp32 kernels: \(CompiledISA.name), tiles of 6 x \(CompiledISA.tileColumns)")
        print("int8 kernels: \(Q8Microkernel.instruction)")
        if let launched = ProcessInfo.processInfo.environment["SEGRUN_LAUNCHED_ISA"] {
            print("this build:   chosen at start by the portable distribution's launcher: \(launched)")
            print("              (scripts/build-portable; SEGRUN_ISA=avx512|avx2|portable caps the choice)")
        } else {
            print("this build:   one path, chosen when it was compiled (SEGRUN_TARGET_CPU, default native). The")
            print("              portable distribution (scripts/build-portable) and the segrun-edge binary")
            print("              (scripts/build-edge) hold AVX-512, AVX2 and portable paths and pick one at start.")
        }
    }

    /// `--compare`: whether two models' parameters are the same bits, and how far apart they are.
    func compareParameters(_ model: Model, label: String, with path: String) throws {
        let other = try loadModelFile(path)
        let a = model.graph.parameters, b = other.graph.parameters
        if a.count != b.count {
            throw CLIError("\(path): \(b.count) parameter tensors against \(label)'s \(a.count): not the same architecture")
        }
        if let k = a.indices.first(where: { a[$0].shape != b[$0].shape }) {
            func shape(_ p: Parameter) -> String { p.shape.map(String.init).joined(separator: "x") }
            throw CLIError("\(path): parameter \(k) ('\(b[k].name)') is \(shape(b[k])) against \(shape(a[k])) in \(label): not the same architecture")
        }
        var identical = true, worstRelative = 0.0, worstAbsolute = 0.0, worstName = ""
        var perTensor: [(name: String, relative: Double)] = []
        var differenceSquares = 0.0, squares = 0.0, largestOverall = 0.0
        for (x, y) in zip(a, b) {
            let u = x.floats, v = y.floats
            var largest = 0.0, difference = 0.0
            for j in 0..<u.count {
                if u[j].bitPattern != v[j].bitPattern { identical = false }
                largest = max(largest, abs(Double(v[j])))
                let d = Double(u[j]) - Double(v[j])
                difference = max(difference, abs(d))
                differenceSquares += d * d
                squares += Double(v[j]) * Double(v[j])
            }
            largestOverall = max(largestOverall, largest)
            worstAbsolute = max(worstAbsolute, difference)
            let relative = largest > 0 ? difference / largest : difference
            perTensor.append((x.name, relative))
            if relative > worstRelative { worstRelative = relative; worstName = x.name }
        }
        // Over the whole model: the norm of the difference relative to the weights' norm, and the largest
        // difference relative to the largest weight. (A tensor whose true gradient is nearly zero, such as the
        // bias of a BatchNorm followed by a convolution and another BatchNorm, is mostly rounding after a few
        // steps, so its own relative difference says little.)
        let normRelative = squares > 0 ? (differenceSquares / squares).squareRoot() : differenceSquares.squareRoot()
        let maxRelative = largestOverall > 0 ? worstAbsolute / largestOverall : worstAbsolute
        if json {
            print(JSON.object([("tensors", "\(a.count)"), ("bitwise_equal", identical ? "true" : "false"),
                               ("relative_l2", String(format: "%.3e", normRelative)), ("relative_max", String(format: "%.3e", maxRelative)),
                               ("max_relative_difference", String(format: "%.3e", worstRelative)), ("max_abs_difference", String(format: "%.3e", worstAbsolute)),
                               ("worst_tensor", JSON.string(worstName))]))
        } else {
            print(identical ? "\(a.count) parameter tensors, bitwise equal"
                  : String(format: "%d parameter tensors differ: largest difference %.3e relative to its tensor's largest magnitude (%@), %.3e absolute",
                           a.count, worstRelative, worstName, worstAbsolute))
            if !identical {
                print(String(format: "whole model: |a-b| / |b| = %.3e (L2 norms), max |a-b| / max |b| = %.3e", normRelative, maxRelative))
                print("largest relative differences per tensor: " + perTensor.sorted { $0.relative > $1.relative }.prefix(5)
                    .map { String(format: "%@ %.2e", $0.name, $0.relative) }.joined(separator: ", "))
            }
        }
    }
}
