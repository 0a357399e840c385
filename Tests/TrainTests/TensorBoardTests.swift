import XCTest
import Foundation
@testable import Train

/// TensorBoard event files: CRC-32C against its check value, and a file read back record by record (length
/// and payload checksums verified, protocol buffers decoded by a reader of the test's own) with the written
/// values. TensorBoard's own reader checks a real run: Benchmarks/peers/tensorboard_check.py.
final class TensorBoardTests: XCTestCase {
    func testCRC32CCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }

    /// Fields of one protocol-buffer message: (field, wire type, varint or fixed value, bytes).
    func fields(_ b: [UInt8]) -> [(Int, Int, UInt64, [UInt8])] {
        var out: [(Int, Int, UInt64, [UInt8])] = [], i = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true { let x = b[i]; i += 1; v |= UInt64(x & 0x7F) << shift; shift += 7; if x < 0x80 { return v } }
        }
        while i < b.count {
            let key = varint(), field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, 0, varint(), []))
            case 1: var v: UInt64 = 0; for k in 0..<8 { v |= UInt64(b[i + k]) << (8 * UInt64(k)) }; i += 8; out.append((field, 1, v, []))
            case 5: var v: UInt64 = 0; for k in 0..<4 { v |= UInt64(b[i + k]) << (8 * UInt64(k)) }; i += 4; out.append((field, 5, v, []))
            case 2: let n = Int(varint()); out.append((field, 2, 0, Array(b[i..<(i + n)]))); i += n
            default: XCTFail("wire type \(wire)"); return out
            }
        }
        return out
    }

    func testEventsReadBack() throws {
        let dir = NSTemporaryDirectory() + "segrun-tb-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]
        let path: String
        do {
            let writer = try TensorBoardWriter(directory: dir)
            path = writer.path
            try writer.add(step: 3, [("loss/train", .scalar(0.625)), ("dice/pooled", .scalar(-1.5e-3)), ("overlays", .png(png, width: 5, height: 7))],
                           wallTime: 1234.5)
        }
        XCTAssertTrue((path as NSString).lastPathComponent.hasPrefix("events.out.tfevents."))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var records: [[UInt8]] = [], i = 0
        while i < bytes.count {
            let lengthBytes = Array(bytes[i..<(i + 8)])
            let length = lengthBytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
            XCTAssertEqual(u32(i + 8), CRC32C.masked(lengthBytes))
            let payload = Array(bytes[(i + 12)..<(i + 12 + length)])
            XCTAssertEqual(u32(i + 12 + length), CRC32C.masked(payload))
            records.append(payload)
            i += 12 + length + 4
        }
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(String(decoding: fields(records[0]).first { $0.0 == 3 }!.3, as: UTF8.self), "brain.Event:2")
        let event = fields(records[1])
        XCTAssertEqual(Double(bitPattern: event.first { $0.0 == 1 }!.2), 1234.5)
        XCTAssertEqual(event.first { $0.0 == 2 }!.2, 3)
        let values = fields(event.first { $0.0 == 5 }!.3).filter { $0.0 == 1 }.map { fields($0.3) }
        XCTAssertEqual(values.count, 3)
        XCTAssertEqual(String(decoding: values[0].first { $0.0 == 1 }!.3, as: UTF8.self), "loss/train")
        XCTAssertEqual(Float(bitPattern: UInt32(values[0].first { $0.0 == 2 }!.2)), 0.625)
        XCTAssertEqual(Float(bitPattern: UInt32(values[1].first { $0.0 == 2 }!.2)), -1.5e-3)
        let image = fields(values[2].first { $0.0 == 4 }!.3)
        XCTAssertEqual(image.first { $0.0 == 1 }!.2, 7)
        XCTAssertEqual(image.first { $0.0 == 2 }!.2, 5)
        XCTAssertEqual(image.first { $0.0 == 4 }!.3, png)
    }
}
