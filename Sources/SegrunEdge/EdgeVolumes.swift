// segrun-edge on volumes: a 3D model over NIfTI (.nii, .nii.gz) and NRRD files, or over raw arrays already on the
// model's grid. The volume path of `segrun predict` (VolumeModelInput), so the label volumes are the same bytes.
import Engine
import ImageIO
import Volumes
import SegrunLibc

/// The output file of a volume: `OUT/STEM.nii.gz`, or `.nrrd` for a NRRD input (as `segrun predict` names it).
func volumeOutput(_ path: String, out: String) -> String {
    var name = Substring(path)
    if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
    let lower = name.asciiLowercased
    for ending in [".nii.gz", ".nii", ".nrrd", ".nhdr"] where lower.hasSuffix(ending) {
        name = name.dropLast(ending.count)
        break
    }
    return out + "/" + String(name) + (NRRD.looksLikeNRRD(path) ? ".nrrd" : ".nii.gz")
}

/// Segments one volume file with a 3D model and writes its label volume (uint8 class ids; a binary model's
/// foreground is 1) in the input's geometry.
func segmentVolumeFile(_ path: String, model: Model, segmenter: Segmenter, options: EdgeOptions) throws(EdgeFailure) {
    let volume: Volume
    do throws(VolumeError) { volume = try VolumeFile.read(path) } catch { throw EdgeFailure(message: error.description) }
    if volume.channels != model.inputChannels {
        throw EdgeFailure(message: "\(path): \(volume.channels) channel(s), the model takes \(model.inputChannels)")
    }
    var input = VolumeModelInput(model)
    if let spacing = options.spacing { input.spacing = spacing }
    let labels: [UInt8]
    do throws(GraphError) {
        labels = try input.labels3D(volume, segmenter: segmenter, options: InferenceOptions(tile: options.tile))
    } catch { throw EdgeFailure(message: "\(path): \(error.description)") }
    do throws(VolumeError) { try VolumeFile.write(.uint8(labels), like: volume, to: volumeOutput(path, out: options.out!)) }
    catch { throw EdgeFailure(message: error.description) }
}

/// A raw volume: `channels` planes of depth x height x width values (x fastest), intensities as a volume file holds
/// them (the model's intensity window is applied), already on the model's grid and in its orientation. Writes
/// `OUT/STEM.raw`: depth x height x width uint8 class ids.
func segmentRawVolume(_ path: String, shape: [Int], model: Model, segmenter: Segmenter, options: EdgeOptions) throws(EdgeFailure) {
    let (d, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
    if c != model.inputChannels { throw EdgeFailure(message: "\(path): \(c) channel(s), the model takes \(model.inputChannels)") }
    let intensities = try readRawValues(path, count: d * h * w * c, dtype: options.dtype, shape: "\(d)x\(h)x\(w)x\(c)")
    let labels: [UInt8]
    do throws(GraphError) {
        labels = try VolumeModelInput(model).labels3D(onModelGrid: intensities, size: [w, h, d], channels: c, segmenter: segmenter,
                                                      options: InferenceOptions(tile: options.tile))
    } catch { throw EdgeFailure(message: "\(path): \(error.description)") }
    do throws(ImageIOError) { try BinaryFile.writeAtomically(labels, to: options.out! + "/" + stem(path) + ".raw") }
    catch { throw EdgeFailure(message: error.description) }
}

/// `count` values of `dtype` (u8, i16 or f32, little-endian) from a raw file that must hold exactly that many.
func readRawValues(_ path: String, count: Int, dtype: String, shape: String) throws(EdgeFailure) -> [Float] {
    let width = dtype == "f32" ? 4 : dtype == "i16" ? 2 : 1
    guard let f = fopen(path, "rb") else { throw EdgeFailure(message: "\(path): cannot open") }
    defer { fclose(f) }
    let bytes = count * width
    // The file's size first, so a wrong --raw is an error before a buffer of the size it claims is made.
    let size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1
    rewind(f)
    var data: [UInt8] = []
    var n = size
    if size == bytes {
        data = [UInt8](repeating: 0, count: bytes + 1)
        n = data.withUnsafeMutableBytes { fread($0.baseAddress, 1, bytes + 1, f) }
    }
    if n != bytes { throw EdgeFailure(message: "\(path): \(n) bytes, but --raw \(shape) \(dtype) needs \(bytes)") }
    var values = [Float](repeating: 0, count: count)
    data.withUnsafeBytes { raw in
        for i in 0..<count {
            switch width {
            case 4: values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case 2: values[i] = Float(Int16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            default: values[i] = Float(raw[i])
            }
        }
    }
    if !values.allSatisfy({ $0.isFinite }) { throw EdgeFailure(message: "\(path): non-finite values") }
    return values
}
