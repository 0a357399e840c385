/// A reader of the protocol-buffer wire format over a byte range: field keys, varints, fixed-width values
/// and length-delimited runs, every read checked against the range's end, so a truncated or corrupt file
/// gives an `ONNXError` naming the byte offset, never a crash. Messages are decoded by walking their fields
/// (`ONNXMessages.swift`); unknown fields are skipped, as protobuf readers do.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes, from: 0, to: bytes.count)
    }

    init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        position = start
        self.end = end
    }

    var isAtEnd: Bool { position >= end }

    private func fail(_ what: String) -> ONNXError { .malformed("\(what) at byte \(position)") }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws(ONNXError) -> (number: Int, type: WireType)? {
        if isAtEnd { return nil }
        let key = try varint()
        guard let type = WireType(rawValue: UInt8(key & 7)) else {
            throw fail("unsupported wire type \(key & 7) (groups are not used by ONNX)")
        }
        let number = key >> 3
        if number == 0 || number > 536_870_911 { throw fail("field number \(number) out of range") }
        return (Int(number), type)
    }

    mutating func varint() throws(ONNXError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            if position >= end { throw fail("truncated varint") }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw fail("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    /// A varint field read as a signed 64-bit integer (int64/int32 fields store two's complement).
    mutating func int64() throws(ONNXError) -> Int64 { Int64(bitPattern: try varint()) }

    mutating func fixed32() throws(ONNXError) -> UInt32 {
        if end - position < 4 { throw fail("truncated fixed32") }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[position + k]) << (8 * k) }
        position += 4
        return v
    }

    mutating func fixed64() throws(ONNXError) -> UInt64 {
        if end - position < 8 { throw fail("truncated fixed64") }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[position + k]) << (8 * k) }
        position += 8
        return v
    }

    mutating func float() throws(ONNXError) -> Float { Float(bitPattern: try fixed32()) }

    /// The range of a length-delimited field's payload, which the caller decodes (a nested message,
    /// a string, a packed array or raw bytes); the reader moves past it.
    mutating func lengthDelimited() throws(ONNXError) -> Range<Int> {
        let length = try varint()
        if length > UInt64(end - position) { throw fail("length \(length) runs past the end (\(end - position) bytes left)") }
        let start = position
        position += Int(length)
        return start..<position
    }

    mutating func string() throws(ONNXError) -> String {
        let range = try lengthDelimited()
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// A reader over a nested message's payload.
    mutating func message() throws(ONNXError) -> ProtobufReader {
        let range = try lengthDelimited()
        return ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
    }

    mutating func skip(_ type: WireType) throws(ONNXError) {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    /// A repeated integer field, packed (one length-delimited run) or not (one varint per occurrence).
    mutating func appendInt64s(_ type: WireType, to list: inout [Int64]) throws(ONNXError) {
        if type == .varint { list.append(try int64()); return }
        guard type == .lengthDelimited else { throw fail("repeated integer field with wire type \(type.rawValue)") }
        var packed = try message()
        while !packed.isAtEnd { list.append(try packed.int64()) }
    }

    /// A repeated float field, packed or not.
    mutating func appendFloats(_ type: WireType, to list: inout [Float]) throws(ONNXError) {
        if type == .fixed32 { list.append(try float()); return }
        guard type == .lengthDelimited else { throw fail("repeated float field with wire type \(type.rawValue)") }
        var packed = try message()
        if (packed.end - packed.position) % 4 != 0 { throw fail("packed floats of \(packed.end - packed.position) bytes") }
        list.reserveCapacity(list.count + (packed.end - packed.position) / 4)
        while !packed.isAtEnd { list.append(try packed.float()) }
    }

    /// A repeated double field, packed or not.
    mutating func appendDoubles(_ type: WireType, to list: inout [Double]) throws(ONNXError) {
        if type == .fixed64 { list.append(Double(bitPattern: try fixed64())); return }
        guard type == .lengthDelimited else { throw fail("repeated double field with wire type \(type.rawValue)") }
        var packed = try message()
        if (packed.end - packed.position) % 8 != 0 { throw fail("packed doubles of \(packed.end - packed.position) bytes") }
        while !packed.isAtEnd { list.append(Double(bitPattern: try packed.fixed64())) }
    }

    /// Checks that a scalar field has the wire type its declaration implies.
    func expect(_ type: WireType, _ wanted: WireType, field: String) throws(ONNXError) {
        if type != wanted { throw fail("field \(field) has wire type \(type.rawValue), expected \(wanted.rawValue)") }
    }
}
