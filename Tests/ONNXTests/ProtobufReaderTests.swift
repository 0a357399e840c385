@testable import ONNX
import XCTest

/// The wire format reader against hand-encoded bytes (encodings from the protobuf documentation).
final class ProtobufReaderTests: XCTestCase {
    func testVarints() throws {
        var r = ProtobufReader([0x96, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
        XCTAssertEqual(try r.varint(), 150)
        XCTAssertEqual(try r.varint(), 0)
        XCTAssertEqual(try r.int64(), -1)
        XCTAssertTrue(r.isAtEnd)
        var truncated = ProtobufReader([0x96])
        XCTAssertThrowsError(try truncated.varint())
        var tooLong = ProtobufReader([UInt8](repeating: 0xff, count: 11))
        XCTAssertThrowsError(try tooLong.varint())
    }

    func testPackedAndUnpackedRepeatedFields() throws {
        // Field 8 (ints) packed: key 0x42, length 3, values 3, 270 (0x8e 0x02).
        var packed = ProtobufReader([0x42, 0x03, 0x03, 0x8e, 0x02])
        var list: [Int64] = []
        while let (field, type) = try packed.nextField() {
            XCTAssertEqual(field, 8)
            try packed.appendInt64s(type, to: &list)
        }
        XCTAssertEqual(list, [3, 270])
        // The same values unpacked: key 0x40 (field 8, varint) twice.
        var unpacked = ProtobufReader([0x40, 0x03, 0x40, 0x8e, 0x02])
        list = []
        while let (_, type) = try unpacked.nextField() { try unpacked.appendInt64s(type, to: &list) }
        XCTAssertEqual(list, [3, 270])
        // Floats: packed run of two, then one unpacked (key 0x3d: field 7, fixed32).
        var floats: [Float] = []
        var f = ProtobufReader([0x3a, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0x3d, 0, 0, 0x20, 0x41])
        while let (_, type) = try f.nextField() { try f.appendFloats(type, to: &floats) }
        XCTAssertEqual(floats, [1, -2, 10])
    }

    func testLengthsPastTheEndAreErrors() {
        var r = ProtobufReader([0x0a, 0x05, 0x61, 0x62])
        XCTAssertNotNil(try? r.nextField())
        XCTAssertThrowsError(try r.lengthDelimited()) { error in
            XCTAssertTrue("\(error)".contains("runs past the end"), "\(error)")
        }
        var group = ProtobufReader([0x0b])
        XCTAssertThrowsError(try group.nextField())
    }

    func testHalfPrecision() {
        XCTAssertEqual(ONNXTensor.halfToFloat(0x3c00), 1)
        XCTAssertEqual(ONNXTensor.halfToFloat(0xc000), -2)
        XCTAssertEqual(ONNXTensor.halfToFloat(0x0001), Float(sign: .plus, exponent: -24, significand: 1))
        XCTAssertEqual(ONNXTensor.halfToFloat(0x7c00), .infinity)
        XCTAssertTrue(ONNXTensor.halfToFloat(0x7e00).isNaN)
        XCTAssertEqual(ONNXTensor.halfToFloat(0x7bff), 65504)
    }
}
