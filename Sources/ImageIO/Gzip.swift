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

    /// A streaming decoder: each `read(count)` returns the next `count` decompressed bytes.
    public final class Reader {
        private var stream = z_stream()
        private let input: [UInt8]
        private var inputPointer: UnsafeMutablePointer<UInt8>
        private var ended = false
        public private(set) var produced = 0

        public init(_ compressed: [UInt8]) throws(Failure) {
            input = compressed
            inputPointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, compressed.count))
            inputPointer.initialize(from: compressed, count: compressed.count)
            stream.next_in = inputPointer
            stream.avail_in = UInt32(compressed.count)
            // 15 + 32: a zlib or a gzip header, detected.
            let status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            if status != Z_OK { throw .corrupt("zlib could not start (\(status))") }
        }

        deinit {
            inflateEnd(&stream)
            inputPointer.deallocate()
        }

        /// The next `count` bytes; fewer than `count` only when `allowShort` (then the stream has ended).
        public func read(_ count: Int, allowShort: Bool = false) throws(Failure) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count && !ended {
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
                    if stream.avail_in > 0 && inflateReset(&stream) == Z_OK { continue }
                    ended = true
                } else if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    ended = true
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

    /// A gzip stream of `bytes` (level 6).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: write a gzip header.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw .corrupt("zlib could not start") }
        defer { deflateEnd(&stream) }
        var input = bytes
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        let status: Int32 = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = UInt32(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw .corrupt("zlib could not compress (\(status))") }
        return Array(out.prefix(Int(stream.total_out)))
    }
}
