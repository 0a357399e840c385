#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// A NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header, kept as the bytes of the file in its byte order, with
/// typed access to the fields segrun uses. Writing a volume of the same geometry copies these bytes and
/// changes only the fields that describe the new voxels.
public struct NIfTIHeader: Equatable {
    public private(set) var bytes: [UInt8]
    /// 1 or 2.
    public let version: Int
    public let bigEndian: Bool

    var size: Int { version == 1 ? 348 : 540 }

    /// Recognizes the header from its first 4 bytes (`sizeof_hdr`, which also gives the byte order).
    static func identify(_ first4: [UInt8]) -> (version: Int, bigEndian: Bool)? {
        let le = Int(first4[0]) | Int(first4[1]) << 8 | Int(first4[2]) << 16 | Int(first4[3]) << 24
        let be = Int(first4[3]) | Int(first4[2]) << 8 | Int(first4[1]) << 16 | Int(first4[0]) << 24
        switch (le, be) {
        case (348, _): return (1, false)
        case (540, _): return (2, false)
        case (_, 348): return (1, true)
        case (_, 540): return (2, true)
        default: return nil
        }
    }

    // MARK: raw access

    func unsigned(_ offset: Int, _ count: Int) -> UInt64 {
        var v: UInt64 = 0
        if bigEndian { for b in 0..<count { v = v << 8 | UInt64(bytes[offset + b]) } }
        else { for b in (0..<count).reversed() { v = v << 8 | UInt64(bytes[offset + b]) } }
        return v
    }

    mutating func setUnsigned(_ offset: Int, _ count: Int, _ value: UInt64) {
        for b in 0..<count {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * UInt64(b)))
            bytes[offset + (bigEndian ? count - 1 - b : b)] = byte
        }
    }

    func int(_ offset: Int, _ count: Int) -> Int {
        let v = unsigned(offset, count)
        switch count {
        case 1: return Int(Int8(truncatingIfNeeded: v))
        case 2: return Int(Int16(truncatingIfNeeded: v))
        case 4: return Int(Int32(truncatingIfNeeded: v))
        default: return Int(Int64(bitPattern: v))
        }
    }

    /// A real field: float32 in NIfTI-1, float64 in NIfTI-2.
    func real(_ v1: Int, _ v2: Int) -> Double {
        version == 1 ? Double(Float(bitPattern: UInt32(unsigned(v1, 4)))) : Double(bitPattern: unsigned(v2, 8))
    }

    mutating func setReal(_ v1: Int, _ v2: Int, _ value: Double) {
        if version == 1 { setUnsigned(v1, 4, UInt64(Float(value).bitPattern)) } else { setUnsigned(v2, 8, value.bitPattern) }
    }

    /// An integer field whose width differs between the versions (bytes in NIfTI-1, NIfTI-2).
    func field(_ v1: (Int, Int), _ v2: (Int, Int)) -> Int { version == 1 ? int(v1.0, v1.1) : int(v2.0, v2.1) }

    mutating func setField(_ v1: (Int, Int), _ v2: (Int, Int), _ value: Int) {
        if version == 1 { setUnsigned(v1.0, v1.1, UInt64(bitPattern: Int64(value))) }
        else { setUnsigned(v2.0, v2.1, UInt64(bitPattern: Int64(value))) }
    }

    // MARK: fields

    /// `dim[0...7]`.
    public var dim: [Int] { (0..<8).map { version == 1 ? int(40 + 2 * $0, 2) : int(16 + 8 * $0, 8) } }
    public var datatype: Int { field((70, 2), (12, 2)) }
    public var bitpix: Int { field((72, 2), (14, 2)) }
    /// `pixdim[0...7]` (`pixdim[0]` is qfac).
    public var pixdim: [Double] { (0..<8).map { real(76 + 4 * $0, 104 + 8 * $0) } }
    public var voxOffset: Double { version == 1 ? real(108, 0) : Double(int(168, 8)) }
    public var sclSlope: Double { real(112, 176) }
    public var sclInter: Double { real(116, 184) }
    public var xyztUnits: Int { version == 1 ? Int(bytes[123]) : int(500, 4) }
    public var qformCode: Int { field((252, 2), (344, 4)) }
    public var sformCode: Int { field((254, 2), (348, 4)) }
    public var quaternion: [Double] { (0..<3).map { real(256 + 4 * $0, 352 + 8 * $0) } }
    public var qoffset: [Double] { (0..<3).map { real(268 + 4 * $0, 376 + 8 * $0) } }
    /// `srow_x`, `srow_y`, `srow_z`.
    public var srow: [[Double]] { (0..<3).map { r in (0..<4).map { real(280 + 16 * r + 4 * $0, 400 + 32 * r + 8 * $0) } } }
    /// The magic string ("n+1", "ni1", "n+2", "ni2").
    public var magic: String {
        let range = version == 1 ? 344..<347 : 4..<7
        return String(decoding: bytes[range].filter { $0 != 0 }, as: UTF8.self)
    }

    /// The affine from voxel to world (RAS+): `sform` when its code is set, else `qform` (quaternion, qfac from
    /// `pixdim[0]`), else the spacing alone (NIfTI's method 1).
    public var affine: [[Double]] {
        let p = pixdim
        if sformCode > 0 { return srow + [[0, 0, 0, 1]] }
        if qformCode > 0 {
            let (b, c, d) = (quaternion[0], quaternion[1], quaternion[2])
            var a = 1 - (b * b + c * c + d * d)
            a = a < 1e-7 ? 0 : a.squareRoot()
            let r = [[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                     [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                     [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - b * b - c * c]]
            let qfac = p[0] < 0 ? -1.0 : 1.0
            let scale = [p[1], p[2], p[3] * qfac]
            return (0..<3).map { i in (0..<3).map { j in r[i][j] * scale[j] } + [qoffset[i]] } + [[0, 0, 0, 1]]
        }
        return [[p[1], 0, 0, 0], [0, p[2], 0, 0], [0, 0, p[3], 0], [0, 0, 0, 1]]
    }

    public var units: String {
        switch xyztUnits & 7 {
        case 1: return "m"
        case 2: return "mm"
        case 3: return "um"
        default: return ""
        }
    }

    /// The header of a single-file volume of this geometry holding `size` voxels of `type` (dims past the
    /// spatial ones dropped, no scaling, no extensions).
    func rewritten(size: [Int], datatype code: Int, bitpix: Int) -> NIfTIHeader {
        var h = self
        let spatial = max(1, min(3, dim[0]))
        for i in 0..<8 {
            let v = i == 0 ? spatial : (i <= spatial ? size[i - 1] : 1)
            if version == 1 { h.setUnsigned(40 + 2 * i, 2, UInt64(v)) } else { h.setUnsigned(16 + 8 * i, 8, UInt64(v)) }
        }
        h.setField((70, 2), (12, 2), code)
        h.setField((72, 2), (14, 2), bitpix)
        if version == 1 { h.setReal(108, 0, 352) } else { h.setUnsigned(168, 8, 544) }
        h.setReal(112, 176, 1)  // scl_slope
        h.setReal(116, 184, 0)  // scl_inter
        h.setReal(124, 192, 0)  // cal_max
        h.setReal(128, 200, 0)  // cal_min
        let magic: [UInt8] = version == 1 ? Array("n+1\0".utf8) : Array("n+2\0\r\n".utf8) + [0x1A, 0x0A]
        let at = version == 1 ? 344 : 4
        for (i, byte) in magic.enumerated() { h.bytes[at + i] = byte }
        return h
    }
}

/// NIfTI-1 and NIfTI-2 volumes: single-file `.nii`, gzipped `.nii.gz`, and `.hdr`/`.img` pairs.
public enum NIfTI {
    /// Datatype codes and the voxel types they hold (RGB, complex and 128-bit types are refused by name).
    static func voxelType(_ code: Int) -> VoxelType? {
        switch code {
        case 2: return .uint8
        case 4: return .int16
        case 8: return .int32
        case 16: return .float32
        case 64: return .float64
        case 256: return .int8
        case 512: return .uint16
        case 768: return .uint32
        case 1024: return .int64
        case 1280: return .uint64
        default: return nil
        }
    }

    static func typeName(_ code: Int) -> String {
        switch code {
        case 32: return "complex64"
        case 128: return "RGB24"
        case 1536: return "float128"
        case 1792: return "complex128"
        case 2048: return "complex256"
        case 2304: return "RGBA32"
        default: return "code \(code)"
        }
    }

    /// True for the names NIfTI files carry.
    public static func looksLikeNIfTI(_ path: String) -> Bool {
        let lower = path.asciiLowercased
        return lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") || lower.hasSuffix(".hdr") || lower.hasSuffix(".hdr.gz")
    }

    /// Reads a volume. `limits` bounds what the header may claim; it is checked before any allocation.
    public static func read(_ path: String, limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        let (grid, layout) = try open(path, limits: limits)
        return Volume(grid: grid, voxels: try layout.readAll())
    }

    /// Decodes a single-file NIfTI (plain or gzipped) held in memory; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String = "<memory>", limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        let (grid, layout) = try open(.memory(bytes), path: path, limits: limits, pair: false)
        return Volume(grid: grid, voxels: try layout.readAll())
    }

    /// The header of a file, checked, and where its voxels are.
    static func open(_ path: String, limits: VolumeLimits) throws(VolumeError) -> (VolumeGrid, VoxelLayout) {
        let lower = path.asciiLowercased
        return try open(.file(path), path: path, limits: limits, pair: lower.hasSuffix(".hdr") || lower.hasSuffix(".hdr.gz"))
    }

    static func open(_ data: VolumeData, path: String, limits: VolumeLimits, pair: Bool) throws(VolumeError) -> (VolumeGrid, VoxelLayout) {
        let stream = try VolumeStream(data, path: path)
        let first = try stream.read(4)
        guard let (version, bigEndian) = NIfTIHeader.identify(first) else {
            throw .invalid(path: path, field: "sizeof_hdr", reason: "is neither 348 (NIfTI-1) nor 540 (NIfTI-2) in either byte order")
        }
        let header = NIfTIHeader(bytes: first + (try stream.read((version == 1 ? 348 : 540) - 4)), version: version, bigEndian: bigEndian)
        let (size, channels, type) = try validate(header, path: path)
        let count = try checkedProduct(size + [channels], limit: limits.maxValues, path: path)
        let offset = header.voxOffset
        guard offset.isFinite, offset >= 0, offset == offset.rounded(), offset < Double(Int32.max) else {
            throw .invalid(path: path, field: "vox_offset", reason: "\(offset) is not a byte offset")
        }
        var voxelData = data
        if pair {
            let base = path.hasSuffix(".gz") ? String(path.dropLast(7)) : String(path.dropLast(4))
            let candidates = [base + ".img", base + ".img.gz", base + ".IMG"]
            guard let image = candidates.first(where: VolumeStream.exists) else {
                throw .cannotRead(path: path, reason: "no image file beside the header (looked for \(base).img and \(base).img.gz)")
            }
            voxelData = .file(image)
        } else if Double(header.size) > offset {
            throw .invalid(path: path, field: "vox_offset", reason: "\(Int(offset)) lies inside the \(header.size)-byte header")
        }
        let slope = header.sclSlope, inter = header.sclInter
        var scale: (Float, Float)? = nil
        if slope.isFinite && slope != 0 && !(slope == 1 && (inter == 0 || !inter.isFinite)) {
            scale = (Float(slope), inter.isFinite ? Float(inter) : 0)
        }
        let need = "the header's \(size.map(String.init).joined(separator: "x"))\(channels > 1 ? "x\(channels)" : "") \(type) voxels need \(count * type.bytes) bytes after offset \(Int(offset))"
        let layout = VoxelLayout(data: voxelData, path: path, dataOffset: Int(offset), type: type, swap: bigEndian, scale: scale,
                                 size: size, channels: channels, need: need)
        let p = header.pixdim
        let spacing = (1...3).map { i in i <= header.dim[0] && p[i] > 0 ? Double(p[i]) : 1.0 }
        let grid = VolumeGrid(size: size, channels: channels, spacing: spacing, affine: header.affine, units: header.units,
                              source: .nifti(header))
        return (grid, layout)
    }

    /// Checks the header's dimensions, type, spacing and geometry: (x, y, z sizes, channels, voxel type).
    static func validate(_ h: NIfTIHeader, path: String) throws(VolumeError) -> ([Int], Int, VoxelType) {
        let dim = h.dim
        guard (1...7).contains(dim[0]) else { throw .invalid(path: path, field: "dim[0]", reason: "\(dim[0]) is not 1 to 7") }
        for i in 1...dim[0] where dim[i] < 1 {
            throw .invalid(path: path, field: "dim[\(i)]", reason: "\(dim[i]) is not a positive size")
        }
        if dim[0] > 4, (5...dim[0]).contains(where: { dim[$0] > 1 }) {
            throw .unsupported(path: path, reason: "\(dim[0]) dimensions (\(dim[1...dim[0]].map(String.init).joined(separator: "x"))); segrun reads 2D, 3D, and 4D as channels")
        }
        let size = (1...3).map { $0 <= dim[0] ? dim[$0] : 1 }
        let channels = dim[0] >= 4 ? dim[4] : 1
        guard let type = voxelType(h.datatype) else {
            throw .unsupported(path: path, reason: "datatype \(typeName(h.datatype)); segrun reads (u)int8/16/32/64, float32 and float64")
        }
        if h.bitpix != 0 && h.bitpix != 8 * type.bytes {
            throw .invalid(path: path, field: "bitpix", reason: "\(h.bitpix) does not match datatype \(type) (\(8 * type.bytes))")
        }
        let p = h.pixdim
        for i in 1...min(3, dim[0]) where !p[i].isFinite || (p[i] <= 0 && dim[i] > 1) {
            throw .invalid(path: path, field: "pixdim[\(i)]", reason: "\(p[i]) is not a spacing")
        }
        if h.sformCode > 0, h.srow.joined().contains(where: { !$0.isFinite }) {
            throw .invalid(path: path, field: "srow", reason: "not finite")
        }
        if h.sformCode <= 0 && h.qformCode > 0, (h.quaternion + h.qoffset).contains(where: { !$0.isFinite }) {
            throw .invalid(path: path, field: "quatern", reason: "not finite")
        }
        return (size, channels, type)
    }

    /// Writes `voxels` (x fastest) as a single-file NIfTI in the geometry of `like`: its header bytes with only
    /// the dimensions, datatype, scaling and offset changed. `.nii.gz` paths are gzipped. Atomic.
    public static func write(_ voxels: VolumeVoxels, size: [Int], like header: NIfTIHeader, to path: String) throws(VolumeError) {
        guard voxels.count == size.reduce(1, *) else { throw .cannotWrite(path: path, reason: "\(voxels.count) voxels for a \(size) grid") }
        let sink = try startWriting(voxels.kind, size: size, like: header, to: path)
        try voxels.write(to: sink, bigEndian: header.bigEndian)
        try sink.commit()
    }

    /// A sink holding the header of a file of `kind` voxels on `size`; the voxels follow in file order.
    static func startWriting(_ kind: VolumeVoxelKind, size: [Int], like header: NIfTIHeader, to path: String) throws(VolumeError) -> VolumeSink {
        let (code, bytesPer) = kind.nifti
        let h = header.rewritten(size: size, datatype: code, bitpix: 8 * bytesPer)
        let sink = try VolumeSink(path: path, gzip: path.asciiLowercased.hasSuffix(".gz"))
        try sink.append(h.bytes + [0, 0, 0, 0])  // the extension flag: none
        return sink
    }
}

/// The types segrun writes: labels (uint8, or uint16 past 255 classes) and float32 values (probabilities).
public enum VolumeVoxelKind {
    case uint8, uint16, float32

    /// NIfTI datatype code and bytes per voxel.
    var nifti: (Int, Int) {
        switch self {
        case .uint8: return (2, 1)
        case .uint16: return (512, 2)
        case .float32: return (16, 4)
        }
    }

    /// The NRRD type name.
    var nrrd: String {
        switch self {
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .float32: return "float"
        }
    }
}

/// Voxels to write: labels (uint8, or uint16 past 255 classes) or float32 values (probabilities).
public enum VolumeVoxels {
    case uint8([UInt8])
    case uint16([UInt16])
    case float32([Float])

    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .uint16(let v): return v.count
        case .float32(let v): return v.count
        }
    }

    public var kind: VolumeVoxelKind {
        switch self {
        case .uint8: return .uint8
        case .uint16: return .uint16
        case .float32: return .float32
        }
    }

    /// Appends the bytes of voxels `range` in the given byte order.
    func append(_ range: Range<Int>, to out: inout [UInt8], bigEndian: Bool) {
        func put(_ v: UInt64, _ n: Int) {
            for b in 0..<n { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(bigEndian ? n - 1 - b : b)))) }
        }
        switch self {
        case .uint8(let v): out += v[range]
        case .uint16(let v): for x in v[range] { put(UInt64(x), 2) }
        case .float32(let v): for x in v[range] { put(UInt64(x.bitPattern), 4) }
        }
    }
}
