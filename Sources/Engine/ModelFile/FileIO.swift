#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

#if canImport(Glibc)
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }
private func isDirectory(_ mode: mode_t) -> Bool { (mode & S_IFMT) == S_IFDIR }
private func mapFailed(_ p: UnsafeMutableRawPointer?) -> Bool { p == MAP_FAILED || p == nil }
#else
private func openFile(_ path: String, _ flags: Int32, _ mode: UInt32 = 0) -> Int32 { segrun_open(path, flags, mode) }
private func isDirectory(_ mode: UInt32) -> Bool { segrun_is_directory(mode) != 0 }
private func mapFailed(_ p: UnsafeMutableRawPointer?) -> Bool { p == segrun_map_failed() || p == nil }
#endif

/// A read-only memory map of a whole file (model files are read in place, without a copy).
public final class MappedFile {
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(ModelFileError) {
        let fd = openFile(path, O_RDONLY)
        if fd < 0 { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw .io("cannot stat \(path): \(errnoText())") }
        if isDirectory(info.st_mode) { throw .io("\(path) is a directory, not a model file") }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        if mapFailed(p) { throw .io("cannot map \(path): \(errnoText())") }
        base = p
    }

    deinit { if let base { munmap(base, size) } }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}

/// Whole-file reads and atomic writes.
public enum FileIO {
    /// Writes `bytes` to a temporary file beside `path`, flushes it to disk, then renames it over
    /// `path`, so readers see the old file or the new one, never a partial one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ModelFileError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw .io("cannot write \(path): \(errnoText())") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n <= 0 { return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let error = errnoText()
        close(fd)
        if !ok {
            unlink(temporary)
            throw .io("cannot write \(path): \(error)")
        }
        if rename(temporary, path) != 0 {
            let e = errnoText()
            unlink(temporary)
            throw .io("cannot write \(path): \(e)")
        }
    }

    public static func writeModel(_ model: Model, to path: String) throws(ModelFileError) {
        try writeAtomically(ModelFileWriter.encode(model), to: path)
    }

    public static func readModel(_ path: String) throws(ModelFileError) -> Model {
        let file = try MappedFile(path: path)
        return try ModelFileReader.decode(file.bytes)
    }
}

func errnoText() -> String {
    #if canImport(Glibc)
    let code = errno
    #else
    let code = segrun_errno()
    #endif
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}
