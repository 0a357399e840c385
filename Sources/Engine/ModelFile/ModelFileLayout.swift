/// The fixed facts of the model file format (docs/FORMAT.md describes it in full).
///
///     offset size  field
///      0      8    magic "SEGRUNMF"
///      8      2    major version (readers reject other majors)
///     10      2    minor version (additions a reader may ignore)
///     12      4    endianness marker 0x0A0B0C0D, stored little-endian
///     16      8    file size in bytes
///     24     16    metadata section: offset, size
///     40     16    graph section: offset, size
///     56     16    tensor directory: offset, size
///     72      4    tensor count
///     76      4    reserved (0)
///     80     16    tensor data section: offset, size (offset a multiple of 64)
///     96      4    CRC-32 of the whole file, computed with these 4 bytes as zero
///    100     28    reserved (0)
public enum ModelFileLayout {
    public static let magic: [UInt8] = Array("SEGRUNMF".utf8)
    /// Written: 2.0, whose nodes carry named, typed attributes. Read: 1.x too (positional attributes).
    public static let majorVersion: UInt16 = 2
    /// 2.1 added the ops clip, prelu, pad and group_norm; 2.2 volumes and windows of any rank (an input's
    /// `spatial_rank`, spatial lists of 1 to 3 entries); 2.3 the ops global_max_pool and presence_gate.
    public static let minorVersion: UInt16 = 3
    public static let readableMajorVersions: [UInt16] = [1, 2]
    public static let endianMarker: UInt32 = 0x0A0B_0C0D
    public static let headerSize = 128
    public static let checksumOffset = 96
    public static let dataAlignment = 64
    /// Upper bounds that keep a corrupt count from asking for absurd memory.
    public static let maxNodes = 1 << 20
    public static let maxRank = 8
    public static let maxStringBytes = 1 << 16
    public static let maxListCount = 1 << 24
}

/// Element types of stored tensors.
public enum DType: UInt8 {
    case f32 = 0
    case i8 = 1
    case i32 = 2

    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .i8: return 1
        }
    }

    public var name: String {
        switch self {
        case .f32: return "f32"
        case .i8: return "i8"
        case .i32: return "i32"
        }
    }
}

/// Op codes of format 1's graph section (format 2 names ops; see `NodeAttributes`).
enum OpCode: UInt8 {
    case input = 1, conv2d = 2, convTranspose2d = 3, maxPool2d = 4, averagePool2d = 5
    case adaptiveAveragePool2d = 6, upsample = 7, concat = 8, add = 9, mul = 10
    case batchNorm = 11, activation = 12, softmax = 13
}

/// Why a model file was rejected. Every case says what is wrong and where.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
    case io(String)
    case tooSmall(size: Int)
    case badMagic
    case unsupportedVersion(major: Int, minor: Int)
    case badEndianMarker(UInt32)
    case sizeMismatch(header: Int, actual: Int)
    case badSection(name: String, offset: Int, size: Int, fileSize: Int)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case truncated(section: String, offset: Int)
    case invalid(section: String, String)

    public var description: String {
        switch self {
        case .io(let s): return s
        case .tooSmall(let size): return "not a segrun model: \(size) bytes is smaller than the 128-byte header"
        case .badMagic: return "not a segrun model: bad magic (expected \"SEGRUNMF\")"
        case .unsupportedVersion(let major, let minor):
            return "model file format version \(major).\(minor) is not supported (this segrun reads 1.x and 2.x)"
        case .badEndianMarker(let m): return "bad endianness marker 0x\(hex(m)) (expected 0x0A0B0C0D)"
        case .sizeMismatch(let h, let a): return "truncated or padded model file: header says \(h) bytes, file has \(a)"
        case .badSection(let name, let o, let s, let f):
            return "\(name) section at offset \(o), size \(s) lies outside the \(f)-byte file"
        case .checksumMismatch(let s, let c): return "checksum mismatch: stored 0x\(hex(s)), computed 0x\(hex(c)) (corrupt file)"
        case .truncated(let section, let o): return "\(section) section ends early at offset \(o)"
        case .invalid(let section, let what): return "\(section): \(what)"
        }
    }
}

func hex(_ v: UInt32) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    var s = ""
    for shift in stride(from: 28, through: 0, by: -4) { s.append(digits[Int((v >> UInt32(shift)) & 0xF)]) }
    return s
}
