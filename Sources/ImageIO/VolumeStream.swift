#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// Where a volume's voxel bytes live: a file (read in chunks, never whole) or bytes already in memory.
public enum VolumeData {
    case file(String)
    case memory([UInt8])
}

/// Sequential bytes of a volume's data, plain or gzipped, starting `offset` bytes into the file. A file is
/// read in 1 MiB chunks, so memory holds one chunk whatever the file's size.
final class VolumeStream {
    private let data: VolumeData
    private let path: String
    private var file: CFile?
    private var position = 0
    private var fileSize = 0
    private let gzip: Gzip.Reader?

    static let chunk = 1 << 20

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `compressed` nil detects gzip by its magic at `offset`.
    init(_ data: VolumeData, offset: Int = 0, compressed: Bool? = nil, path: String) throws(VolumeError) {
        self.data = data
        self.path = path
        position = offset
        switch data {
        case .memory(let bytes):
            fileSize = bytes.count
        case .file(let name):
            guard let f = fopen(name, "rb") else { throw .cannotRead(path: name, reason: lastError) }
            var info = stat()
            if fstat(fileno(f), &info) != 0 || UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) {
                fclose(f)
                throw .cannotRead(path: name, reason: "is not a regular file")
            }
            fileSize = Int(info.st_size)
            if fseeko(f, off_t(offset), SEEK_SET) != 0 { fclose(f); throw .corrupt(path: path, reason: "cannot seek to byte \(offset)") }
            file = f
        }
        guard offset <= fileSize else { throw .corrupt(path: path, reason: "the file ends after \(fileSize) bytes, before byte \(offset)") }
        var isGzip = compressed ?? false
        if compressed == nil {
            let magic = VolumeStream.peek(data, file: file, offset: offset, count: 2)
            isGzip = Gzip.isGzip(magic)
        }
        if isGzip {
            let source = data, file = self.file
            var memoryPosition = offset
            let refill = { () -> [UInt8] in
                switch source {
                case .memory(let bytes):
                    let end = min(bytes.count, memoryPosition + VolumeStream.chunk)
                    defer { memoryPosition = end }
                    return Array(bytes[memoryPosition..<end])
                case .file:
                    var buffer = [UInt8](repeating: 0, count: VolumeStream.chunk)
                    let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                    return Array(buffer.prefix(n))
                }
            }
            do { gzip = try Gzip.Reader(refill: refill) } catch { throw .corrupt(path: path, reason: "bad gzip stream") }
        } else {
            gzip = nil
        }
    }

    deinit { if let file { fclose(file) } }

    private static func peek(_ data: VolumeData, file: CFile?, offset: Int, count: Int) -> [UInt8] {
        switch data {
        case .memory(let bytes):
            return Array(bytes[min(offset, bytes.count)..<min(offset + count, bytes.count)])
        case .file:
            var out = [UInt8](repeating: 0, count: count)
            let n = out.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
            fseeko(file, off_t(offset), SEEK_SET)
            return Array(out.prefix(n))
        }
    }

    /// The next `count` bytes, or a `corrupt` error saying how many there were.
    func read(_ count: Int) throws(VolumeError) -> [UInt8] {
        if count == 0 { return [] }
        if let gzip {
            do { return try gzip.read(count) } catch {
                switch error {
                case .truncated(let got, _): throw .corrupt(path: path, reason: "the gzip stream ends after \(got) bytes")
                case .corrupt(let m): throw .corrupt(path: path, reason: "gzip: \(m)")
                }
            }
        }
        guard position + count <= fileSize else {
            throw .corrupt(path: path, reason: "the file ends after \(fileSize) bytes")
        }
        defer { position += count }
        switch data {
        case .memory(let bytes):
            return Array(bytes[position..<(position + count)])
        case .file:
            var out = [UInt8](repeating: 0, count: count)
            let n = out.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
            if n != count { throw .corrupt(path: path, reason: "the file ends after \(position + n) bytes") }
            return out
        }
    }

    /// Skips `count` bytes (a plain file seeks; a gzip stream decompresses them a chunk at a time).
    func skip(_ count: Int) throws(VolumeError) {
        if gzip == nil, case .file = data {
            guard position + count <= fileSize else { throw .corrupt(path: path, reason: "the file ends after \(fileSize) bytes") }
            position += count
            if fseeko(file, off_t(position), SEEK_SET) != 0 { throw .corrupt(path: path, reason: "cannot seek to byte \(position)") }
            return
        }
        var left = count
        while left > 0 {
            let n = min(left, VolumeStream.chunk)
            _ = try read(n)
            left -= n
        }
    }
}

extension VolumeStream {
    /// The size of a regular file, in bytes.
    static func fileSize(_ path: String) throws(VolumeError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .cannotRead(path: path, reason: lastError) }
        if UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) { throw .cannotRead(path: path, reason: "is a directory") }
        return Int(info.st_size)
    }
}
