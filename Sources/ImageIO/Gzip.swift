import CZlib

/// gzip (and zlib) streams through zlib, which libpng already links. Decompression writes into a buffer
/// of a size the caller states, so a file cannot make it allocate more than its header has been checked
/// to need (a decompression bomb fails at its header, before any allocation).
public enum Gzip {
    public enum Failure: Error, Equatable {
        /// The stream is damaged (zlib's message).
        case corrupt(String)
        /// The stream ended before `wanted` bytes came out.
        case truncated(got: Int, wanted: Int)
    }

    /// True when `bytes` start with the gzip magic (1f 8b).
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// A streaming decoder: each `read(count)` returns the next `count` decompressed bytes. Its input is
    /// either held whole or pulled in chunks from `refill` (an empty chunk is the end of the input), so a
    /// file-backed reader holds one chunk of the compressed file at a time.
    public final class Reader {
        private var stream = z_stream()
        private var chunkPointer: UnsafeMutablePointer<UInt8>?
        private let refill: () -> [UInt8]
        private var inputEnded = false
        private var ended = false
        public private(set) var produced = 0

        public convenience init(_ compressed: [UInt8]) throws(Failure) {
            var given = false
            try self.init { () -> [UInt8] in
                if given { return [] }
                given = true
                return compressed
            }
        }

        public init(refill: @escaping () -> [UInt8]) throws(Failure) {
            self.refill = refill
            // 15 + 32: a zlib or a gzip header, detected.
            let status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            if status != Z_OK { throw .corrupt("zlib could not start (\(status))") }
        }

        deinit {
            inflateEnd(&stream)
            chunkPointer?.deallocate()
        }

        /// Points zlib at the next chunk of input; false at the end of the input.
        private func nextChunk() -> Bool {
            if inputEnded { return false }
            chunkPointer?.deallocate()
            chunkPointer = nil
            let chunk = refill()
            if chunk.isEmpty { inputEnded = true; return false }
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk.count)
            p.initialize(from: chunk, count: chunk.count)
            chunkPointer = p
            stream.next_in = p
            stream.avail_in = UInt32(chunk.count)
            return true
        }

        /// The next `count` bytes; fewer than `count` only when `allowShort` (then the stream has ended).
        public func read(_ count: Int, allowShort: Bool = false) throws(Failure) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count && !ended {
                if stream.avail_in == 0 && !nextChunk() && stream.total_in == 0 { ended = true; break }
                let status: Int32 = out.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress! + got
                    stream.avail_out = UInt32(min(count - got, Int(UInt32.max)))
                    let before = Int(stream.avail_out)
                    let s = inflate(&stream, Z_NO_FLUSH)
                    got += before - Int(stream.avail_out)
                    return s
                }
                if status == Z_STREAM_END {
                    // Concatenated gzip members (as `cat a.gz b.gz` makes) continue after a reset.
                    if (stream.avail_in > 0 || nextChunk()) && inflateReset(&stream) == Z_OK { continue }
                    ended = true
                } else if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    // zlib wants more input: the next chunk, or the input ended inside the stream.
                    if !nextChunk() { ended = true }
                } else if status != Z_OK {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw .corrupt(message)
                }
            }
            produced += got
            if got < count {
                if allowShort { return Array(out.prefix(got)) }
                throw .truncated(got: produced, wanted: produced - got + count)
            }
            return out
        }
    }
}
