// segrun-edge: the minimal runtime as one small static binary (Embedded Swift: Kernels, the Engine core and
// the PNG part of ImageIO, no Swift runtime libraries). Built by scripts/build-edge for x86-64 and aarch64.
//
//   segrun-edge MODEL IN... --out DIR [--threads N] [--tile S] [--probabilities] [--algorithm igemm]
//   segrun-edge MODEL RAW... --raw HxWxC --dtype u8|f32 --out DIR     (u8: interleaved H x W x C bytes;
//                                                                       f32: planar C x H x W floats in [0, 1])
//   segrun-edge MODEL --info        segrun-edge --version        segrun-edge --cpu
//
// Masks are the same PNGs `segrun predict` writes (0/255 for binary models, class ids otherwise), byte for byte.
import Engine
import Kernels
import ImageIO
import SegrunLibc

struct EdgeFailure: Error {
    var message: String
}

struct EdgeOptions {
    var model = ""
    var inputs: [String] = []
    var out: String?
    var threads = ParallelFor.coreCount
    var tile: Int?
    var probabilities = false
    var info = false
    var raw: (height: Int, width: Int, channels: Int)?
    var float32 = false
    var algorithm: ConvAlgorithm?

    static let usage = "usage: segrun-edge MODEL IN... --out DIR [--threads N] [--tile S] [--probabilities] [--algorithm NAME]\n"
        + "       segrun-edge MODEL RAW... --raw HxWxC --dtype u8|f32 --out DIR\n"
        + "       segrun-edge MODEL --info | segrun-edge --version | segrun-edge --cpu"

    static func parse(_ args: [String]) throws(EdgeFailure) -> EdgeOptions {
        var o = EdgeOptions()
        var i = 0
        func value(_ flag: String) throws(EdgeFailure) -> String {
            i += 1
            if i >= args.count { throw EdgeFailure(message: "\(flag) needs a value") }
            return args[i]
        }
        func positive(_ flag: String) throws(EdgeFailure) -> Int {
            let text = try value(flag)
            guard let n = Int(text), n >= 1 else { throw EdgeFailure(message: "\(flag) takes a positive integer, got '\(text)'") }
            return n
        }
        var dtype = "u8"
        while i < args.count {
            let a = args[i]
            switch a {
            case "--out": o.out = try value(a)
            case "--threads": o.threads = try positive(a)
            case "--tile": o.tile = try positive(a)
            case "--probabilities": o.probabilities = true
            case "--info": o.info = true
            case "--dtype": dtype = try value(a)
            case "--algorithm":
                let name = try value(a)
                guard let alg = ConvAlgorithm(name: name) else { throw EdgeFailure(message: "unknown algorithm '\(name)'") }
                o.algorithm = alg
            case "--raw":
                let text = try value(a)
                let parts = text.split(separator: "x").compactMap { Int($0) }
                guard parts.count == 3, parts.allSatisfy({ $0 >= 1 }) else { throw EdgeFailure(message: "--raw takes HxWxC, got '\(text)'") }
                o.raw = (parts[0], parts[1], parts[2])
            default:
                if a.hasPrefix("--") { throw EdgeFailure(message: "unknown option \(a)\n" + usage) }
                if o.model.isEmpty { o.model = a } else { o.inputs.append(a) }
            }
            i += 1
        }
        if dtype != "u8" && dtype != "f32" { throw EdgeFailure(message: "--dtype takes u8 or f32") }
        o.float32 = dtype == "f32"
        if o.model.isEmpty { throw EdgeFailure(message: "no model file given\n" + usage) }
        if !o.info {
            if o.inputs.isEmpty { throw EdgeFailure(message: "no input images given\n" + usage) }
            if o.out == nil { throw EdgeFailure(message: "--out DIR is required") }
        }
        return o
    }
}

func stem(_ path: String) -> String {
    var name = Substring(path)
    if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
    if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = name[..<dot] }
    return String(name)
}

func readRaw(_ path: String, _ shape: (height: Int, width: Int, channels: Int), float32: Bool) throws(EdgeFailure) -> Tensor {
    guard let f = fopen(path, "rb") else { throw EdgeFailure(message: "\(path): cannot open") }
    defer { fclose(f) }
    let count = shape.height * shape.width * shape.channels
    let bytes = count * (float32 ? 4 : 1)
    var data = [UInt8](repeating: 0, count: bytes + 1)
    let n = data.withUnsafeMutableBytes { fread($0.baseAddress, 1, bytes + 1, f) }
    if n != bytes { throw EdgeFailure(message: "\(path): \(n) bytes, but --raw \(shape.height)x\(shape.width)x\(shape.channels) \(float32 ? "f32" : "u8") needs \(bytes)") }
    var planar = [Float](repeating: 0, count: count)
    let hw = shape.height * shape.width
    if float32 {
        data.withUnsafeBytes { raw in for i in 0..<count { planar[i] = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self) } }
        if !planar.allSatisfy({ $0.isFinite }) { throw EdgeFailure(message: "\(path): non-finite values") }
    } else {
        for p in 0..<hw { for c in 0..<shape.channels { planar[c * hw + p] = Float(data[p * shape.channels + c]) / 255 } }
    }
    return Tensor(shape: TensorShape(batch: 1, channels: shape.channels, height: shape.height, width: shape.width), data: planar)
}

func run(_ o: EdgeOptions) throws(EdgeFailure) {
    let model: Model
    do throws(ModelFileError) { model = try FileIO.readModel(o.model) } catch { throw EdgeFailure(message: "\(o.model): \(error.description)") }
    if o.info {
        print("segrun-edge \(SegrunVersion.string), kernels: \(CompiledISA.nameOfRunningCopy()), int8: \(Q8Microkernel.instructionOfRunningCopy())")
        print("model \(o.model): \(model.precision), \(model.inputChannels) input channel(s), \(model.classes) class(es), \(model.graph.nodes.count) nodes")
        for (key, value) in model.metadata.entries { print("  \(key) = \(value.description)") }
        return
    }
    let segmenter: Segmenter
    do throws(GraphError) {
        segmenter = try Segmenter(model, threads: o.threads, policy: o.algorithm.map { .forced($0) } ?? .measured)
    } catch { throw EdgeFailure(message: "\(o.model): \(error.description)") }
    let out = o.out!
    if mkdir(out, 0o755) != 0 && segrun_errno() != EEXIST { throw EdgeFailure(message: "\(out): cannot create the folder") }
    var failures = 0
    for path in o.inputs {
        do throws(EdgeFailure) {
            var x: Tensor
            if let raw = o.raw {
                if raw.channels != model.inputChannels { throw EdgeFailure(message: "\(path): \(raw.channels) channel(s), the model takes \(model.inputChannels)") }
                x = try readRaw(path, raw, float32: o.float32)
            } else {
                let image: Image
                do throws(ImageIOError) { image = try ImageFile.read(path).converted(toChannels: model.inputChannels) }
                catch { throw EdgeFailure(message: error.description) }
                x = Tensor(shape: TensorShape(batch: 1, channels: model.inputChannels, height: image.height, width: image.width), data: image.planar)
            }
            let h = x.shape.height, w = x.shape.width
            let probabilities: Tensor
            do throws(GraphError) {
                probabilities = try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions(tile: o.tile))
            } catch { throw EdgeFailure(message: "\(path): \(error.description)") }
            let labels = segmenter.labels(probabilities)
            let mask = model.classes == 1 ? labels.map { $0 == 0 ? UInt8(0) : 255 } : labels
            let name = out + "/" + stem(path)
            do throws(ImageIOError) {
                try ImageFile.writePNG(mask, width: w, height: h, channels: 1, to: name + ".png")
                // Multi-label: NAME.png holds the label bits; NAME_LABEL.png each label's mask (as segrun predict).
                for (c, label) in model.labelFileNames.enumerated() {
                    let bit = UInt8(1) << UInt8(c)
                    try ImageFile.writePNG(labels.map { $0 & bit != 0 ? 255 : 0 }, width: w, height: h, channels: 1, to: name + "_" + label + ".png")
                }
                if o.probabilities {
                    let hw = h * w
                    for c in 0..<probabilities.shape.channels {
                        var plane = [UInt16](repeating: 0, count: hw)
                        for i in 0..<hw { plane[i] = UInt16(max(0, min(1, probabilities.data[c * hw + i])) * 65535 + 0.5) }
                        try ImageFile.writePNG16(plane, width: w, height: h, to: name + (probabilities.shape.channels == 1 ? "_prob" : "_prob\(c)") + ".png")
                    }
                }
            } catch { throw EdgeFailure(message: error.description) }
        } catch {
            fputs("segrun-edge: \(error.message)\n", stderr)
            failures += 1
        }
    }
    print("segrun-edge: wrote \(o.inputs.count - failures) mask(s) to \(out)")
    if failures > 0 { throw EdgeFailure(message: "\(failures) of \(o.inputs.count) input(s) failed (listed above)") }
}

#if SEGRUN_EDGE_DISPATCH
/// The dispatching x86-64 binary: its C main (scripts/embedded/dispatch) picks the kernels, then calls this.
@_cdecl("segrun_edge_main")
func dispatchedMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    edgeMain(argc, argv)
}
#else
@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    edgeMain(argc, argv)
}
#endif

func edgeMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var args: [String] = []
    for i in 1..<Int(argc) { args.append(String(cString: argv[i]!)) }
    if args == ["--version"] {
        print("segrun-edge \(SegrunVersion.string) (\(CompiledISA.nameOfRunningCopy()))")
        return 0
    }
    if args == ["--cpu"] {
        // The dispatching x86-64 build answers this in its C main; a single-path build answers here.
        print("kernel path: \(CompiledISA.nameOfRunningCopy()) (the only one in this binary)")
        return 0
    }
    do throws(EdgeFailure) {
        try run(try EdgeOptions.parse(args))
        return 0
    } catch {
        fputs("segrun-edge: \(error.message)\n", stderr)
        return 1
    }
}
