#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and atomic writes (temporary file, fsync, rename).
enum BinaryFile {
    static func read(_ path: String) throws(ImageIOError) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(f) }
        var info = stat()
        if fstat(fileno(f), &info) != 0 { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .cannotRead(path: path, reason: "is a directory") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n != bytes.count { throw .cannotRead(path: path, reason: "short read (\(n) of \(bytes.count) bytes)") }
        return bytes
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ImageIOError) {
        let temporary = path + ".tmp-\(getpid())"
        guard let f = fopen(temporary, "wb") else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        if written != bytes.count || !flushed {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: "disk full or I/O error")
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
    }
}
