#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// A C stream: glibc's `FILE` imports as a struct, musl's (segrun-edge, built with SEGRUN_MUSL) as opaque.
#if SEGRUN_MUSL
typealias CFile = OpaquePointer
#else
typealias CFile = UnsafeMutablePointer<FILE>
#endif

/// The last error's message (errno is a macro that Embedded builds reach through SegrunLibc).
var lastError: String {
    #if canImport(Glibc)
    return String(cString: strerror(errno))
    #else
    return String(cString: strerror(segrun_errno()))
    #endif
}

/// Whole-file reads, atomic writes (temporary file, fsync, rename) and output folders.
public enum BinaryFile {
    static func read(_ path: String) throws(ImageIOError) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw .cannotRead(path: path, reason: lastError) }
        defer { fclose(f) }
        var info = stat()
        if fstat(fileno(f), &info) != 0 { throw .cannotRead(path: path, reason: lastError) }
        if UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) { throw .cannotRead(path: path, reason: "is a directory") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n != bytes.count { throw .cannotRead(path: path, reason: "short read (\(n) of \(bytes.count) bytes)") }
        return bytes
    }

    /// A new temporary file beside `path`, opened for writing, that no other writer shares: created with
    /// O_EXCL (fopen's "x", exclusive on NFS too), with the next free suffix after the process id. Two
    /// processes writing the same output (a retried Kubernetes pod whose pid is 1 like the first one's, a
    /// Slurm task run twice) each write their own file and the last rename wins whole.
    /// (Generic over the file type: glibc's `FILE` imports as a struct, musl's, in Embedded builds, as opaque.)
    static func createTemporary<File>(beside path: String, open: (String) -> File?) -> (file: File?, path: String, error: String) {
        var attempt = 0
        while true {
            let temporary = path + ".tmp-\(getpid())" + (attempt == 0 ? "" : "-\(attempt)")
            if let f = open(temporary) { return (f, temporary, "") }
            let reason = lastError
            attempt += 1
            if attempt > 64 || access(temporary, F_OK) != 0 { return (nil, temporary, reason) }
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ImageIOError) {
        let (file, temporary, reason) = createTemporary(beside: path) { fopen($0, "wbx") }
        guard let f = file else { throw .cannotWrite(path: path, reason: reason) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        if written != bytes.count || !flushed {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: "disk full or I/O error")
        }
        if rename(temporary, path) != 0 {
            let reason = lastError
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
    }

    /// `mkdir -p`: the folder `path` and any of its parents that are missing. A part that cannot be made, or that
    /// is a file, is named in the error, with the system's reason.
    public static func makeFolders(_ path: String) throws(ImageIOError) {
        var bytes = path.utf8CString
        for end in 1..<bytes.count where bytes[end] == 0x2F || bytes[end] == 0 {
            let separator = bytes[end]
            bytes[end] = 0
            try bytes.withUnsafeBufferPointer { (part) throws(ImageIOError) in
                if mkdir(part.baseAddress!, 0o755) == 0 { return }
                let reason = lastError
                var info = stat()
                if stat(part.baseAddress!, &info) != 0 {
                    throw .cannotWrite(path: String(cString: part.baseAddress!), reason: "cannot make the folder (\(reason))")
                }
                if UInt32(info.st_mode) & UInt32(S_IFMT) != UInt32(S_IFDIR) {
                    throw .cannotWrite(path: String(cString: part.baseAddress!), reason: "a file, where a folder is needed")
                }
            }
            bytes[end] = separator
        }
    }
}
