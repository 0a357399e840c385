import Foundation
import ImageIO

/// TensorBoard event files, written without TensorFlow: `events.out.tfevents.TIME.HOST` in a log folder,
/// a sequence of TFRecords (u64 length, masked CRC-32C of the length, the payload, masked CRC-32C of the
/// payload), each payload an `Event` protocol buffer: wall time, step, and a `Summary` of scalar values or
/// PNG images. Each `add` call is flushed at once, so TensorBoard shows a run while it trains and an
/// interrupted run keeps every step written before.
public final class TensorBoardWriter {
    public let path: String
    private let handle: FileHandle

    /// Opens a new event file in `directory` (created if missing).
    public init(directory: String) throws {
        try BinaryFile.makeFolders(directory)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        var candidate = directory + "/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host)"
        var n = 1
        while FileManager.default.fileExists(atPath: candidate) { n += 1; candidate = directory + "/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(n)" }
        guard FileManager.default.createFile(atPath: candidate, contents: nil), let h = FileHandle(forWritingAtPath: candidate) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: candidate])
        }
        path = candidate
        handle = h
        // The first event names the format version, as TensorFlow's writers do.
        var event = ProtobufWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.string(3, "brain.Event:2")
        try write(event.bytes)
    }

    deinit { try? handle.close() }

    /// A value of a summary: a scalar, or a PNG image with its size.
    public enum Value {
        case scalar(Float)
        case png([UInt8], width: Int, height: Int)
    }

    /// One event at `step` holding `values` by tag (tags with "/" group in TensorBoard's panels).
    public func add(step: Int, _ values: [(tag: String, value: Value)], wallTime: Double = Date().timeIntervalSince1970) throws {
        var summary = ProtobufWriter()
        for (tag, value) in values {
            var v = ProtobufWriter()
            v.string(1, tag)
            switch value {
            case .scalar(let x):
                v.float(2, x)
            case .png(let bytes, let width, let height):
                var image = ProtobufWriter()
                image.varint(1, UInt64(height))
                image.varint(2, UInt64(width))
                image.varint(3, 3)  // colorspace: RGB
                image.lengthDelimited(4, bytes)
                v.message(4, image)
            }
            summary.message(1, v)
        }
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.varint(2, UInt64(max(0, step)))
        event.message(5, summary)
        try write(event.bytes)
    }

    /// One TFRecord.
    private func write(_ payload: [UInt8]) throws {
        var record: [UInt8] = []
        var length = UInt64(payload.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        record += lengthBytes
        var lengthCRC = CRC32C.masked(lengthBytes).littleEndian
        record += withUnsafeBytes(of: &lengthCRC) { Array($0) }
        record += payload
        var payloadCRC = CRC32C.masked(payload).littleEndian
        record += withUnsafeBytes(of: &payloadCRC) { Array($0) }
        try handle.write(contentsOf: Data(record))
        try handle.synchronize()
    }
}

/// The few protocol-buffer encodings an Event needs: varints, 64-bit doubles, 32-bit floats and
/// length-delimited strings, bytes and messages.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }

    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64(i)))) }
    }

    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32(i)))) }
    }

    mutating func lengthDelimited(_ field: Int, _ v: [UInt8]) { key(field, 2); rawVarint(UInt64(v.count)); bytes += v }

    mutating func string(_ field: Int, _ v: String) { lengthDelimited(field, Array(v.utf8)) }

    mutating func message(_ field: Int, _ m: ProtobufWriter) { lengthDelimited(field, m.bytes) }
}
