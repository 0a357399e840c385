/// Little-endian writer into a growing byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    mutating func i32(_ v: Int) { u32(UInt32(bitPattern: Int32(truncatingIfNeeded: v))) }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func align(_ alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    mutating func patch32(at offset: Int, _ v: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }
    mutating func patch64(at offset: Int, _ v: UInt64) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }
}

/// Bounds-checked little-endian reader over one section of a file. Every read checks that it stays
/// inside the section and throws `truncated` naming the section and offset otherwise.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let section: String
    var position: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, section: String, offset: Int, size: Int) {
        self.bytes = bytes
        self.section = section
        position = offset
        end = offset + size
    }

    var remaining: Int { end - position }

    mutating func take(_ n: Int) throws(ModelFileError) -> Int {
        if n < 0 || n > end - position { throw .truncated(section: section, offset: position) }
        let start = position
        position += n
        return start
    }

    mutating func u8() throws(ModelFileError) -> UInt8 { bytes[try take(1)] }
    mutating func u16() throws(ModelFileError) -> UInt16 {
        let p = try take(2)
        return UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8
    }
    mutating func u32() throws(ModelFileError) -> UInt32 {
        let p = try take(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[p + i]) << (8 * UInt32(i)) }
        return v
    }
    mutating func u64() throws(ModelFileError) -> UInt64 {
        let p = try take(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[p + i]) << (8 * UInt64(i)) }
        return v
    }
    mutating func i32() throws(ModelFileError) -> Int { Int(Int32(bitPattern: try u32())) }
    mutating func f32() throws(ModelFileError) -> Float { Float(bitPattern: try u32()) }
    mutating func f64() throws(ModelFileError) -> Double { Double(bitPattern: try u64()) }

    /// A count that must fit in `limit` and in what remains of the section at `minBytesEach` bytes per item.
    mutating func count(_ what: String, limit: Int, minBytesEach: Int = 1) throws(ModelFileError) -> Int {
        let n = Int(try u32())
        if n > limit || n * minBytesEach > remaining {
            throw .invalid(section: section, "\(what) count \(n) at offset \(position - 4) is impossible")
        }
        return n
    }

    mutating func string() throws(ModelFileError) -> String {
        let n = try count("string byte", limit: ModelFileLayout.maxStringBytes)
        let p = try take(n)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[p..<(p + n)])
        guard let s = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw .invalid(section: section, "string at offset \(p) is not valid UTF-8")
        }
        return s
    }
}
