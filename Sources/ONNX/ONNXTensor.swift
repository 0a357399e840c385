import Foundation

/// An ONNX tensor (`TensorProto`): an initializer, a `Constant`'s value, or a value the importer folded.
/// Values come from `raw_data` (little-endian) or the typed fields (`float_data`, `int32_data` for the
/// 8/16-bit types and float16, `int64_data`, `double_data`), or from an external data file beside the model.
public struct ONNXTensor {
    /// ONNX's `TensorProto.DataType` numbers for the types segrun reads.
    public enum DataType: Int64 {
        case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10,
             double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16
    }

    public var name = ""
    public var dims: [Int] = []
    public var dataType: Int64 = 0
    var raw: [UInt8]?
    var floatData: [Float] = []
    var int64Data: [Int64] = []
    var doubleData: [Double] = []
    var int32Data: [Int64] = []
    var external: [(key: String, value: String)] = []
    /// Values decoded already (folded constants and loaded tensors).
    var decoded: [Double]?

    public var elementCount: Int { dims.reduce(1, *) }

    /// A tensor holding `values` (folded constants; integers are stored exactly in a Double up to 2^53).
    public init(name: String, dims: [Int], dataType: DataType, values: [Double]) {
        self.name = name
        self.dims = dims
        self.dataType = dataType.rawValue
        decoded = values
    }

    init(_ r: inout ProtobufReader) throws(ONNXError) {
        var dims64: [Int64] = []
        var location: Int64 = 0
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.appendInt64s(type, to: &dims64)
            case 2: try r.expect(type, .varint, field: "TensorProto.data_type"); dataType = try r.int64()
            case 4: try r.appendFloats(type, to: &floatData)
            case 5: try r.appendInt64s(type, to: &int32Data)
            case 7: try r.appendInt64s(type, to: &int64Data)
            case 8: try r.expect(type, .lengthDelimited, field: "TensorProto.name"); name = try r.string()
            case 9: try r.expect(type, .lengthDelimited, field: "TensorProto.raw_data"); raw = Array(r.bytes[try r.lengthDelimited()])
            case 10: try r.appendDoubles(type, to: &doubleData)
            case 13: try r.expect(type, .lengthDelimited, field: "TensorProto.external_data"); var m = try r.message(); external.append(try ONNXModel.entry(&m))
            case 14: try r.expect(type, .varint, field: "TensorProto.data_location"); location = try r.int64()
            case 3: throw .invalid("tensor '\(name)' is segmented, which segrun does not read")
            default: try r.skip(type)
            }
        }
        if dims64.contains(where: { $0 < 0 || $0 > Int64(Int32.max) }) { throw .invalid("tensor '\(name)' has dims \(dims64)") }
        dims = dims64.map { Int($0) }
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow || product > 1 << 34 { throw .invalid("tensor '\(name)' has dims \(dims64): too many elements") }
            count = product
        }
        if location == 1 && external.isEmpty { throw .invalid("tensor '\(name)' is stored externally but names no file") }
        if location != 1 { external = [] }
    }

    var type: DataType? { DataType(rawValue: dataType) }

    /// Bytes per element in `raw_data`.
    private var elementSize: Int? {
        switch type {
        case .float, .int32, .uint32: return 4
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .int64, .uint64, .double: return 8
        case nil: return nil
        }
    }

    private var typeName: String {
        type.map { "\($0)" } ?? "data type \(dataType)"
    }

    /// The values as Doubles (exact for every integer type up to 2^53 and for float16/float32), checking
    /// that the stored data holds exactly `elementCount` of them. External data is read relative to
    /// `directory` (the model's folder) and must stay inside it.
    public func values(directory: String?) throws(ONNXError) -> [Double] {
        if let decoded { return decoded }
        guard let size = elementSize else { throw .invalid("tensor '\(name)' has \(typeName), which segrun does not read") }
        let count = elementCount
        var bytes = raw
        if !external.isEmpty { bytes = try externalBytes(directory: directory, size: size * count) }
        if let bytes {
            if bytes.count != size * count {
                throw .invalid("tensor '\(name)': dims \(dims) need \(size * count) bytes of \(typeName), the data has \(bytes.count)")
            }
            return Self.decodeRaw(bytes, type: type!, count: count)
        }
        let typed: [Double]
        switch type! {
        case .float: typed = floatData.map { Double($0) }
        case .double: typed = doubleData
        case .int64: typed = int64Data.map { Double($0) }
        case .uint64: typed = int64Data.map { Double(UInt64(bitPattern: $0)) }
        case .float16: typed = int32Data.map { Double(Self.halfToFloat(UInt16(truncatingIfNeeded: $0))) }
        case .bfloat16: typed = int32Data.map { Double(Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16)) }
        case .int32, .int16, .int8, .uint8, .uint16, .bool, .uint32: typed = int32Data.map { Double($0) }
        }
        if typed.count != count {
            throw .invalid("tensor '\(name)': dims \(dims) hold \(count) values, the data has \(typed.count)")
        }
        return typed
    }

    public func floats(directory: String?) throws(ONNXError) -> [Float] {
        try values(directory: directory).map { Float($0) }
    }

    public func ints(directory: String?) throws(ONNXError) -> [Int] {
        var out: [Int] = []
        for v in try values(directory: directory) {
            guard v.isFinite, v.rounded() == v, abs(v) < 9.2e18 else { throw .invalid("tensor '\(name)' holds \(v) where an integer is needed") }
            out.append(Int(v))
        }
        return out
    }

    private static func decodeRaw(_ b: [UInt8], type: DataType, count: Int) -> [Double] {
        var out = [Double](repeating: 0, count: count)
        b.withUnsafeBytes { p in
            for i in 0..<count {
                switch type {
                case .float: out[i] = Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                case .double: out[i] = Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case .int64: out[i] = Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case .uint64: out[i] = Double(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case .int32: out[i] = Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .uint32: out[i] = Double(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .int16: out[i] = Double(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .uint16: out[i] = Double(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .float16: out[i] = Double(halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                case .bfloat16: out[i] = Double(Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16))
                case .int8: out[i] = Double(Int8(bitPattern: p[i]))
                case .uint8, .bool: out[i] = Double(p[i])
                }
            }
        }
        return out
    }

    /// IEEE half precision to single precision, subnormals, infinities and NaN included.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    private func externalBytes(directory: String?, size: Int) throws(ONNXError) -> [UInt8] {
        var location = "", offset = 0, length: Int?
        for (key, value) in external {
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else { throw .invalid("tensor '\(name)': external data offset '\(value)'") }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else { throw .invalid("tensor '\(name)': external data length '\(value)'") }
                length = v
            default: break
            }
        }
        guard let directory else { throw .invalid("tensor '\(name)' is stored in an external file, and the model was not read from a file") }
        if location.isEmpty || location.hasPrefix("/") || location.split(separator: "/").contains("..") {
            throw .invalid("tensor '\(name)': external data '\(location)' points outside the model's folder")
        }
        let base = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let path = URL(fileURLWithPath: directory + "/" + location).resolvingSymlinksInPath().path
        if !path.hasPrefix(base + "/") {
            throw .invalid("tensor '\(name)': external data '\(location)' points outside the model's folder")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .io("tensor '\(name)': cannot open external data file '\(location)'")
        }
        defer { try? handle.close() }
        let wanted = length ?? size
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: wanted) ?? Data()
            if data.count != wanted {
                throw ONNXError.invalid("tensor '\(name)': external data '\(location)' holds \(data.count) bytes at offset \(offset), \(wanted) needed")
            }
            return [UInt8](data)
        } catch let e as ONNXError {
            throw e
        } catch {
            throw .io("tensor '\(name)': reading external data '\(location)': \(error)")
        }
    }
}
