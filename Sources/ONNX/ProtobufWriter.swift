/// A writer of the protocol-buffer wire format: each message is built into its own byte array, and a
/// nested message is appended with its length (the sizes here are small enough that the copy is free).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ type: ProtobufReader.WireType) { varint(UInt64(field) << 3 | UInt64(type.rawValue)) }

    mutating func int(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        let bits = value.bitPattern
        for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
    }

    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        build(&nested)
        bytes(field, nested.bytes)
    }

    /// A packed repeated integer field.
    mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var nested = ProtobufWriter()
        for v in values { nested.varint(UInt64(bitPattern: v)) }
        bytes(field, nested.bytes)
    }

    /// A packed repeated float field.
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var payload: [UInt8] = []
        payload.reserveCapacity(values.count * 4)
        for v in values {
            let bits = v.bitPattern
            for k in 0..<4 { payload.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
        }
        bytes(field, payload)
    }
}
