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

    func validate() throws {
        if parseSize(size) == nil { throw ValidationError("--size takes H or HxW, e.g. 256 or 512x384") }
    }

    func run() throws {
        if cpu {
            printCPU()
            return
        }
        let (model, label, fileBytes) = try modelOptions.load(self.model)
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
}
