// The C API of include/segrun.h, in the Embedded subset: scripts/build-capi compiles this file with
// Kernels and the Engine core into a static library that needs no Swift runtime.
import Engine
import Kernels
import ImageIO
import Volumes

/// What a `segrun_model *` points at.
final class CModelHandle {
    let model: Model
    var segmenter: Segmenter
    let precision: StaticString

    init(model: Model, threads: Int) throws(GraphError) {
        self.model = model
        segmenter = try Segmenter(model, threads: threads)
        precision = model.precision == "int8" ? "int8" : "fp32"
    }
}

private enum Status: Int32 {
    case ok = 0, file = 1, model = 2, shape = 3, argument = 4
}

private func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, size: Int) {
    guard let buffer, size > 0 else { return }
    var n = 0
    for byte in text.utf8 {
        if n >= size - 1 { break }
        buffer[n] = CChar(bitPattern: byte)
        n += 1
    }
    buffer[n] = 0
}

private func handle(_ p: OpaquePointer?) -> CModelHandle? {
    guard let p else { return nil }
    return Unmanaged<CModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

@_cdecl("segrun_version")
public func segrun_version() -> UnsafePointer<CChar> {
    let s: StaticString = "0.1.0"
    return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("segrun_open")
public func segrun_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                        _ message: UnsafeMutablePointer<CChar>?, _ messageSize: Int) -> Int32 {
    guard let path, let out else {
        write("segrun_open: path and model must not be NULL", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    out.pointee = nil
    let file = String(cString: path)
    let model: Model
    do throws(ModelFileError) {
        model = try FileIO.readModel(file)
    } catch {
        write("\(file): \(error.description)", to: message, size: messageSize)
        switch error {
        case .io: return Status.file.rawValue
        default: return Status.model.rawValue
        }
    }
    do throws(GraphError) {
        let h = try CModelHandle(model: model, threads: ParallelFor.coreCount)
        out.pointee = OpaquePointer(Unmanaged.passRetained(h).toOpaque())
        write("", to: message, size: messageSize)
        return Status.ok.rawValue
    } catch {
        write("\(file): \(error.description)", to: message, size: messageSize)
        return Status.model.rawValue
    }
}

@_cdecl("segrun_close")
public func segrun_close(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<CModelHandle>.fromOpaque(UnsafeRawPointer(p)).release()
}

@_cdecl("segrun_input_channels")
public func segrun_input_channels(_ p: OpaquePointer?) -> Int32 { Int32(handle(p)?.model.inputChannels ?? 0) }

@_cdecl("segrun_classes")
public func segrun_classes(_ p: OpaquePointer?) -> Int32 { Int32(handle(p)?.model.classes ?? 0) }

@_cdecl("segrun_input_multiple")
public func segrun_input_multiple(_ p: OpaquePointer?) -> Int32 { Int32(handle(p)?.model.inputMultiple ?? 0) }

@_cdecl("segrun_precision")
public func segrun_precision(_ p: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let h = handle(p) else { return nil }
    return UnsafeRawPointer(h.precision.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("segrun_metadata")
public func segrun_metadata(_ p: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guard let h = handle(p), let key else { return -1 }
    guard let v = h.model.metadata[String(cString: key)] else { return -1 }
    let text = v.description
    write(text, to: value, size: size)
    return Int32(text.utf8.count)
}

@_cdecl("segrun_set_threads")
public func segrun_set_threads(_ p: OpaquePointer?, _ threads: Int32) -> Int32 {
    guard let h = handle(p), threads >= 1 else { return Status.argument.rawValue }
    do throws(GraphError) {
        h.segmenter = try Segmenter(h.model, threads: Int(threads))
        return Status.ok.rawValue
    } catch {
        return Status.model.rawValue
    }
}

/// Probabilities of a planar [0, 1] image, at its size.
private func probabilities(_ h: CModelHandle, _ x: Tensor, _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Tensor? {
    do throws(GraphError) {
        return try h.segmenter.probabilities(h.segmenter.normalize(x), options: InferenceOptions())
    } catch {
        write(error.description, to: message, size: size)
        return nil
    }
}

/// Whether an input of `shape` is within `MemoryBudget`'s bound, checked before the caller's buffer is read: a size
/// no buffer can hold is `SEGRUN_ERR_SHAPE` with a message, not an overflow trap in the caller's process.
func inputFits(_ shape: TensorShape, _ message: UnsafeMutablePointer<CChar>?, _ size: Int) -> Bool {
    do throws(GraphError) {
        try MemoryBudget.checkInputs([shape])
        return true
    } catch {
        write(error.description, to: message, size: size)
        return false
    }
}

@_cdecl("segrun_run_f32")
public func segrun_run_f32(_ p: OpaquePointer?, _ input: UnsafePointer<Float>?, _ height: Int32, _ width: Int32,
                           _ output: UnsafeMutablePointer<Float>?, _ message: UnsafeMutablePointer<CChar>?, _ messageSize: Int) -> Int32 {
    guard let h = handle(p), let input, let output, height > 0, width > 0 else {
        write("segrun_run_f32: NULL pointer or non-positive size", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    let c = h.model.inputChannels, hh = Int(height), ww = Int(width)
    guard inputFits(TensorShape(channels: c, height: hh, width: ww), message, messageSize) else { return Status.shape.rawValue }
    let x = Tensor(shape: TensorShape(batch: 1, channels: c, height: hh, width: ww),
                   data: Array(UnsafeBufferPointer(start: input, count: c * hh * ww)))
    guard let probs = probabilities(h, x, message, messageSize) else { return Status.shape.rawValue }
    output.update(from: probs.data, count: probs.data.count)
    write("", to: message, size: messageSize)
    return Status.ok.rawValue
}

@_cdecl("segrun_run_u8")
public func segrun_run_u8(_ p: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ height: Int32, _ width: Int32, _ channels: Int32,
                          _ mask: UnsafeMutablePointer<UInt8>?, _ message: UnsafeMutablePointer<CChar>?, _ messageSize: Int) -> Int32 {
    guard let h = handle(p), let pixels, let mask, height > 0, width > 0 else {
        write("segrun_run_u8: NULL pointer or non-positive size", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    let c = h.model.inputChannels, hh = Int(height), ww = Int(width)
    if Int(channels) != c {
        write("the image has \(channels) channel(s), the model takes \(c)", to: message, size: messageSize)
        return Status.shape.rawValue
    }
    guard inputFits(TensorShape(channels: c, height: hh, width: ww), message, messageSize) else { return Status.shape.rawValue }
    var planar = [Float](repeating: 0, count: c * hh * ww)
    for i in 0..<(hh * ww) { for k in 0..<c { planar[k * hh * ww + i] = Float(pixels[i * c + k]) / 255 } }
    let x = Tensor(shape: TensorShape(batch: 1, channels: c, height: hh, width: ww), data: planar)
    guard let probs = probabilities(h, x, message, messageSize) else { return Status.shape.rawValue }
    let labels = h.segmenter.labels(probs)
    let binary = h.model.classes == 1
    for i in 0..<labels.count { mask[i] = binary ? (labels[i] != 0 ? 255 : 0) : labels[i] }
    write("", to: message, size: messageSize)
    return Status.ok.rawValue
}

@_cdecl("segrun_is_volumetric")
public func segrun_is_volumetric(_ p: OpaquePointer?) -> Int32 { handle(p)?.model.inputSpatialRank == 3 ? 1 : 0 }

@_cdecl("segrun_run_volume")
public func segrun_run_volume(_ p: OpaquePointer?, _ voxels: UnsafePointer<Float>?, _ depth: Int32, _ height: Int32, _ width: Int32,
                              _ labels: UnsafeMutablePointer<UInt8>?, _ message: UnsafeMutablePointer<CChar>?, _ messageSize: Int) -> Int32 {
    guard let h = handle(p), let voxels, let labels, depth > 0, height > 0, width > 0 else {
        write("segrun_run_volume: NULL pointer or non-positive size", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    guard h.model.inputSpatialRank == 3 else {
        write("segrun_run_volume: the model segments images (segrun_run_f32, segrun_run_u8)", to: message, size: messageSize)
        return Status.shape.rawValue
    }
    let c = h.model.inputChannels
    guard inputFits(TensorShape(channels: c, depth: Int(depth), height: Int(height), width: Int(width)), message, messageSize) else {
        return Status.shape.rawValue
    }
    let n = Int(depth) * Int(height) * Int(width)
    let values = Array(UnsafeBufferPointer(start: voxels, count: c * n))
    if !values.allSatisfy({ $0.isFinite }) {
        write("segrun_run_volume: non-finite voxel values", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    do throws(GraphError) {
        let out = try VolumeModelInput(h.model).labels3D(onModelGrid: values, size: [Int(width), Int(height), Int(depth)], channels: c,
                                                         segmenter: h.segmenter, options: InferenceOptions())
        labels.update(from: out, count: n)
    } catch {
        write(error.description, to: message, size: messageSize)
        return Status.shape.rawValue
    }
    write("", to: message, size: messageSize)
    return Status.ok.rawValue
}

@_cdecl("segrun_segment_volume_file")
public func segrun_segment_volume_file(_ p: OpaquePointer?, _ inputPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
                                       _ message: UnsafeMutablePointer<CChar>?, _ messageSize: Int) -> Int32 {
    guard let h = handle(p), let inputPath, let outPath else {
        write("segrun_segment_volume_file: NULL model or path", to: message, size: messageSize)
        return Status.argument.rawValue
    }
    guard h.model.inputSpatialRank == 3 else {
        write("segrun_segment_volume_file: the model segments images; 2D models on volumes run in segrun predict", to: message, size: messageSize)
        return Status.shape.rawValue
    }
    let path = String(cString: inputPath)
    let volume: Volume
    do throws(VolumeError) { volume = try VolumeFile.read(path) } catch {
        write(error.description, to: message, size: messageSize)
        return Status.file.rawValue
    }
    if volume.channels != h.model.inputChannels {
        write("\(path): \(volume.channels) channel(s), the model takes \(h.model.inputChannels)", to: message, size: messageSize)
        return Status.shape.rawValue
    }
    let labels: [UInt8]
    do throws(GraphError) {
        labels = try VolumeModelInput(h.model).labels3D(volume, segmenter: h.segmenter, options: InferenceOptions())
    } catch {
        write("\(path): \(error.description)", to: message, size: messageSize)
        return Status.shape.rawValue
    }
    do throws(VolumeError) { try VolumeFile.write(.uint8(labels), like: volume, to: String(cString: outPath)) } catch {
        write(error.description, to: message, size: messageSize)
        return Status.file.rawValue
    }
    write("", to: message, size: messageSize)
    return Status.ok.rawValue
}
