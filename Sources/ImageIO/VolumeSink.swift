#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif
import CZlib

/// A volume file written as it is produced, plain or gzipped, atomically: bytes go to a temporary file beside
/// the target (compressed a chunk at a time), which is synced and renamed over the target by `commit`. A sink
/// dropped before `commit` removes its temporary file, so an interrupted write leaves the target untouched.
final class VolumeSink {
    private let path: String
    private let temporary: String
    private var file: CFile?
    /// zlib keeps a pointer to its stream, so the stream lives at a fixed address.
    private var deflater: UnsafeMutablePointer<z_stream>?
    private var output = [UInt8](repeating: 0, count: 1 << 18)
    private var failed = false

    init(path: String, gzip: Bool) throws(VolumeError) {
        self.path = path
        let created = BinaryFile.createTemporary(beside: path) { fopen($0, "wbx") }
        temporary = created.path
        guard let f = created.file else { throw .cannotWrite(path: path, reason: created.error) }
        file = f
        if gzip {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // 15 + 16: a gzip header; level 6.
            guard deflateInit2_(stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                stream.deallocate()
                throw .cannotWrite(path: path, reason: "zlib could not start")
            }
            deflater = stream
        }
    }

    deinit {
        if let deflater { deflateEnd(deflater); deflater.deallocate() }
        if let file {
            fclose(file)
            unlink(temporary)
        }
    }

    /// Appends `bytes` (compressing them when gzipped; `compressed: false` writes them as they are, as a NRRD's
    /// header before its gzipped data, and only before any compressed byte).
    func append(_ bytes: [UInt8], compressed: Bool = true) throws(VolumeError) {
        if deflater == nil || !compressed {
            if !bytes.isEmpty && bytes.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) != bytes.count { failed = true }
        } else {
            try deflate(bytes, finish: false)
        }
        if failed { throw .cannotWrite(path: path, reason: "disk full or I/O error") }
    }

    private func deflate(_ bytes: [UInt8], finish: Bool) throws(VolumeError) {
        var input = bytes
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { i in
            deflater!.pointee.next_in = i.baseAddress
            deflater!.pointee.avail_in = UInt32(i.count)
            repeat {
                let produced: Int = output.withUnsafeMutableBufferPointer { o in
                    deflater!.pointee.next_out = o.baseAddress
                    deflater!.pointee.avail_out = UInt32(o.count)
                    status = CZlib.deflate(deflater!, finish ? Z_FINISH : Z_NO_FLUSH)
                    return o.count - Int(deflater!.pointee.avail_out)
                }
                if produced > 0 && output.withUnsafeBytes({ fwrite($0.baseAddress, 1, produced, file) }) != produced { failed = true }
            } while !failed && (deflater!.pointee.avail_out == 0 || (finish && status == Z_OK))
        }
        if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR { throw .cannotWrite(path: path, reason: "gzip failed (\(status))") }
    }

    /// Ends the stream, syncs the file and renames it over the target.
    func commit() throws(VolumeError) {
        if deflater != nil { try deflate([], finish: true) }
        guard let f = file else { return }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        file = nil
        if failed || !flushed {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: "disk full or I/O error")
        }
        if rename(temporary, path) != 0 {
            let reason = lastError
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
    }
}

extension VolumeVoxels {
    /// Writes the voxels to `sink` a chunk at a time, in the given byte order.
    func write(to sink: VolumeSink, bigEndian: Bool) throws(VolumeError) {
        let chunk = 1 << 18
        var start = 0
        while start < count {
            let end = min(count, start + chunk)
            var bytes: [UInt8] = []
            append(start..<end, to: &bytes, bigEndian: bigEndian)
            try sink.append(bytes)
            start = end
        }
    }
}

/// A volume file written slice by slice on a grid read before (NIfTI for a NIfTI source, NRRD for NRRD):
/// the header first, then the voxels in file order (x fastest, then y, then z) as they are appended, so a
/// volume never needs to be held whole to be written. Atomic: nothing replaces `path` before `commit`.
public final class VolumeWriter {
    private let sink: VolumeSink
    private let bigEndian: Bool
    private let kind: VolumeVoxelKind
    private let expected: Int
    private let path: String
    private var written = 0

    public init(_ kind: VolumeVoxelKind, like grid: VolumeGrid, to path: String) throws(VolumeError) {
        self.kind = kind
        self.path = path
        expected = grid.voxelCount
        switch grid.source {
        case .nifti(let h):
            let lower = path.asciiLowercased
            guard NIfTI.looksLikeNIfTI(path) && !lower.hasSuffix(".hdr") && !lower.hasSuffix(".hdr.gz") else {
                throw .cannotWrite(path: path, reason: "a NIfTI volume's mask is written as .nii or .nii.gz")
            }
            sink = try NIfTI.startWriting(kind, size: grid.size, like: h, to: path)
            bigEndian = h.bigEndian
        case .nrrd(let h):
            guard path.asciiLowercased.hasSuffix(".nrrd") else { throw .cannotWrite(path: path, reason: "a NRRD volume's mask is written as .nrrd") }
            sink = try NRRD.startWriting(kind, size: grid.size, like: h, to: path)
            bigEndian = false
        }
    }

    /// Appends the next voxels in file order.
    public func append(_ voxels: VolumeVoxels) throws(VolumeError) {
        guard voxels.kind == kind, written + voxels.count <= expected else {
            throw .cannotWrite(path: path, reason: "\(written + voxels.count) voxels for a grid of \(expected)")
        }
        try voxels.write(to: sink, bigEndian: bigEndian)
        written += voxels.count
    }

    /// Ends the file and renames it into place; every voxel of the grid must have been appended.
    public func commit() throws(VolumeError) {
        guard written == expected else { throw .cannotWrite(path: path, reason: "\(written) voxels written of the grid's \(expected)") }
        try sink.commit()
    }
}
