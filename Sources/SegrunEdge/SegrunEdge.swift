// segrun-edge: the minimal runtime as one small static binary (Embedded Swift: Kernels, the Engine core and
// the PNG part of ImageIO, no Swift runtime libraries). Built by scripts/build-edge for x86-64 and aarch64.
//
//   segrun-edge MODEL IN... --out DIR [--threads N] [--tile S] [--probabilities] [--algorithm igemm]
//   segrun-edge MODEL RAW... --raw HxWxC --dtype u8|f32 --out DIR     (u8: interleaved H x W x C bytes;
//                                                                       f32: planar C x H x W floats in [0, 1])
//   segrun-edge MODEL3D VOLUME... --out DIR [--spacing X|XxYxZ] [--tile S]   (.nii, .nii.gz, .nrrd: label volumes
//                                                                       as `segrun predict` writes them)
//   segrun-edge MODEL3D RAW... --raw DxHxWxC --dtype u8|i16|f32 --out DIR    (planar C x D x H x W intensities on
//                                                                       the model's grid; writes STEM.raw labels)
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
    /// HxWxC (an image) or DxHxWxC (a volume).
    var raw: [Int]?
    var dtype = "u8"
    /// The voxel spacing volumes are resampled to, overriding the model's (`segrun predict --spacing`).
    var spacing: [Double]?
    var algorithm: ConvAlgorithm?

    static let usage = "usage: segrun-edge MODEL IN... --out DIR [--threads N] [--tile S] [--probabilities] [--algorithm NAME]\n"
        + "       segrun-edge MODEL RAW... --raw HxWxC --dtype u8|f32 --out DIR\n"
        + "       segrun-edge MODEL3D VOLUME.nii.gz... --out DIR [--spacing X|XxYxZ] [--tile S]\n"
        + "       segrun-edge MODEL3D RAW... --raw DxHxWxC --dtype u8|i16|f32 --out DIR\n"
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
        while i < args.count {
            let a = args[i]
            switch a {
            case "--out": o.out = try value(a)
            case "--threads": o.threads = try positive(a)  // more than ParallelFor.maxThreads run as that many
            case "--tile": o.tile = try positive(a)
            case "--probabilities": o.probabilities = true
            case "--info": o.info = true
            case "--dtype": o.dtype = try value(a)
            case "--spacing":
                let text = try value(a)
                let parts = text.split(separator: "x").map { Double(String($0)) }
                guard parts.count == 1 || parts.count == 3, parts.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
                    throw EdgeFailure(message: "--spacing takes X or XxYxZ (positive), got '\(text)'")
                }
                o.spacing = parts.count == 1 ? [parts[0]!, parts[0]!, parts[0]!] : parts.map { $0! }
            case "--algorithm":
                let name = try value(a)
                guard let alg = ConvAlgorithm(name: name) else { throw EdgeFailure(message: "unknown algorithm '\(name)'") }
                o.algorithm = alg
            case "--raw":
                let text = try value(a)
                let parts = text.split(separator: "x").compactMap { Int($0) }
                // Each extent at most 2^15, so their product cannot overflow; the file's size must then match it.
                guard parts.count == 3 || parts.count == 4, parts.count == text.split(separator: "x").count,
                      parts.allSatisfy({ (1...32768).contains($0) }) else {
                    throw EdgeFailure(message: "--raw takes HxWxC (an image) or DxHxWxC (a volume), each 1 to 32768, got '\(text)'")
                }
                o.raw = parts
            default:
                if a.hasPrefix("--") { throw EdgeFailure(message: "unknown option \(a)\n" + usage) }
                if o.model.isEmpty { o.model = a } else { o.inputs.append(a) }
            }
            i += 1
        }
        let volume = o.raw?.count == 4
        if !["u8", "f32"].contains(o.dtype) && !(volume && o.dtype == "i16") {
            throw EdgeFailure(message: volume ? "--dtype takes u8, i16 or f32" : "--dtype takes u8 or f32 (i16 is for raw volumes)")
        }
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

/// A raw image: u8 interleaved H x W x C bytes (scaled to [0, 1]), or f32 planar C x H x W floats in [0, 1].
func readRaw(_ path: String, _ shape: [Int], dtype: String) throws(EdgeFailure) -> Tensor {
    let (h, w, c) = (shape[0], shape[1], shape[2])
    let values = try readRawValues(path, count: h * w * c, dtype: dtype, shape: "\(h)x\(w)x\(c)")
    if dtype == "f32" { return Tensor(shape: TensorShape(batch: 1, channels: c, height: h, width: w), data: values) }
    var planar = [Float](repeating: 0, count: h * w * c)
    let hw = h * w
    for p in 0..<hw { for k in 0..<c { planar[k * hw + p] = values[p * c + k] / 255 } }
    return Tensor(shape: TensorShape(batch: 1, channels: c, height: h, width: w), data: planar)
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
    do throws(ImageIOError) { try BinaryFile.makeFolders(out) } catch { throw EdgeFailure(message: error.description) }
    var failures = 0, volumes = 0
    let model3D = model.inputSpatialRank == 3
    for path in o.inputs {
        do throws(EdgeFailure) {
            let isVolume = o.raw.map { $0.count == 4 } ?? VolumeFile.looksLikeVolume(path)
            if isVolume != model3D {
                throw EdgeFailure(message: model3D ? "\(path): a 3D model takes volumes (.nii, .nii.gz, .nrrd) or --raw DxHxWxC"
                                                   : "\(path): a 2D model on volumes runs slice by slice in segrun predict, not in segrun-edge")
            }
            if isVolume {
                if o.probabilities { throw EdgeFailure(message: "--probabilities on volumes: use segrun predict") }
                if let raw = o.raw { try segmentRawVolume(path, shape: raw, model: model, segmenter: segmenter, options: o) }
                else { try segmentVolumeFile(path, model: model, segmenter: segmenter, options: o) }
                volumes += 1
                continue
            }
            var x: Tensor
            if let raw = o.raw {
                if raw[2] != model.inputChannels { throw EdgeFailure(message: "\(path): \(raw[2]) channel(s), the model takes \(model.inputChannels)") }
                x = try readRaw(path, raw, dtype: o.dtype)
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
    print("segrun-edge: wrote \(o.inputs.count - failures) \(volumes > 0 ? "label volume(s)" : "mask(s)") to \(out)")
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

