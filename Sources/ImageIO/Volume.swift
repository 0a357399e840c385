/// A volume as a scanner writes it: voxels in file order (x fastest, then y, then z, then channels), their
/// spacing, and the affine that places voxel (i, j, k) in world space (NIfTI: RAS+ millimetres; NRRD: the
/// file's `space`). The header it came from is kept, so a mask written back for it carries the same
/// geometry field for field.
public struct Volume {
    /// Voxels along x, y and z (a 2D image has z = 1).
    public var size: [Int]
    /// Values per voxel: 1, or the length of a 4th axis (time points or MRI modalities).
    public var channels: Int
    /// Intensities with the file's scaling applied (NIfTI `scl_slope`/`scl_inter`), channel-major:
    /// index `((c * nz + z) * ny + y) * nx + x`.
    public var voxels: [Float]
    /// Distance between voxel centres along x, y and z, in `units`.
    public var spacing: [Double]
    /// 4x4, row-major: world = affine * (i, j, k, 1).
    public var affine: [[Double]]
    /// Spatial units ("mm", "m", "um" or "" when the file does not say).
    public var units: String
    /// The file's header, for writing a volume of the same geometry.
    public var source: VolumeSource

    public var voxelCount: Int { size.reduce(1, *) }

    /// Everything but the voxels.
    public var grid: VolumeGrid {
        VolumeGrid(size: size, channels: channels, spacing: spacing, affine: affine, units: units, source: source)
    }

    public init(grid: VolumeGrid, voxels: [Float]) {
        self.init(size: grid.size, channels: grid.channels, voxels: voxels, spacing: grid.spacing, affine: grid.affine,
                  units: grid.units, source: grid.source)
    }

    public init(size: [Int], channels: Int, voxels: [Float], spacing: [Double], affine: [[Double]], units: String, source: VolumeSource) {
        precondition(size.count == 3 && voxels.count == size.reduce(1, *) * channels, "a volume of \(size)x\(channels) needs as many voxels")
        self.size = size
        self.channels = channels
        self.voxels = voxels
        self.spacing = spacing
        self.affine = affine
        self.units = units
        self.source = source
    }
}

/// A volume without its voxels: what a header says, known before any voxel is read.
public struct VolumeGrid {
    public var size: [Int]
    public var channels: Int
    public var spacing: [Double]
    public var affine: [[Double]]
    public var units: String
    public var source: VolumeSource

    public var voxelCount: Int { size.reduce(1, *) }
}

/// Where a volume's geometry came from.
public enum VolumeSource {
    case nifti(NIfTIHeader)
    case nrrd(NRRDHeader)
}

/// Limits a reader checks before it allocates.
public struct VolumeLimits {
    /// Voxels times channels a file may hold (default 2^29: a 2 GiB float32 volume).
    public var maxValues: Int

    public init(maxValues: Int = 1 << 29) { self.maxValues = maxValues }

    public static let standard = VolumeLimits()
}

/// Why a volume file cannot be read or written. Each case names the file, and the field when one is at fault.
public enum VolumeError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case invalid(path: String, field: String, reason: String)
    case corrupt(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case tooLarge(path: String, values: String, limit: Int)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "\(p): cannot read: \(r)"
        case .invalid(let p, let f, let r): return "\(p): invalid header field \(f): \(r)"
        case .corrupt(let p, let r): return "\(p): corrupt or truncated volume: \(r)"
        case .unsupported(let p, let r): return "\(p): unsupported volume: \(r)"
        case .tooLarge(let p, let v, let l): return "\(p): " + sizeClaimRefusal(values: v, limit: l)
        case .cannotWrite(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}

/// The voxel types the readers know, with their sizes.
public enum VoxelType: Equatable {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64

    public var bytes: Int {
        switch self {
        case .uint8, .int8: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// Decodes `count` values starting at `offset` of `bytes` into `out[start...]`, converting byte order when `swap`
    /// (the file's values are little-endian unless `swap`).
    func decode(_ bytes: UnsafeRawBufferPointer, offset: Int, count: Int, swap: Bool, into out: inout [Float], at start: Int = 0) {
        precondition(start >= 0 && start + count <= out.count && offset >= 0 && offset + count * self.bytes <= bytes.count,
                     "decode: \(count) values out of range")
        guard count > 0 else { return }
        let src = bytes.baseAddress! + offset
        out.withUnsafeMutableBufferPointer { o in
            let dst = o.baseAddress! + start
            /// The file's value `i` of type `T`, in host order.
            @inline(__always) func value<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                let v = src.loadUnaligned(fromByteOffset: i &* MemoryLayout<T>.size, as: T.self)
                return swap ? T(bigEndian: v) : T(littleEndian: v)
            }
            switch self {
            case .uint8: for i in 0..<count { dst[i] = Float(value(UInt8.self, i)) }
            case .int8: for i in 0..<count { dst[i] = Float(value(Int8.self, i)) }
            case .uint16: for i in 0..<count { dst[i] = Float(value(UInt16.self, i)) }
            case .int16: for i in 0..<count { dst[i] = Float(value(Int16.self, i)) }
            case .uint32: for i in 0..<count { dst[i] = Float(value(UInt32.self, i)) }
            case .int32: for i in 0..<count { dst[i] = Float(value(Int32.self, i)) }
            case .uint64: for i in 0..<count { dst[i] = Float(value(UInt64.self, i)) }
            case .int64: for i in 0..<count { dst[i] = Float(value(Int64.self, i)) }
            case .float32: for i in 0..<count { dst[i] = Float(bitPattern: value(UInt32.self, i)) }
            case .float64: for i in 0..<count { dst[i] = Float(Double(bitPattern: value(UInt64.self, i))) }
            }
        }
    }
}

/// Why a file whose header claims `values` samples (dimensions written "AxBxC") over `limit` is refused; volumes
/// and images say it alike.
func sizeClaimRefusal(values: String, limit: Int) -> String {
    "the header claims \(values) values, more than the limit of \(limit)"
}

/// Multiplies the dimensions, refusing overflow and anything over `limit` before any allocation.
func checkedProduct(_ dims: [Int], limit: Int, path: String) throws(VolumeError) -> Int {
    var total = 1
    for d in dims {
        let (p, overflow) = total.multipliedReportingOverflow(by: d)
        if overflow || p > limit {
            throw .tooLarge(path: path, values: dims.map(String.init).joined(separator: "x"), limit: limit)
        }
        total = p
    }
    return total
}

/// Volume files by their names: NIfTI (`.nii`, `.nii.gz`, `.hdr`) and NRRD (`.nrrd`, `.nhdr`).
public enum VolumeFile {
    public static func looksLikeVolume(_ path: String) -> Bool { NIfTI.looksLikeNIfTI(path) || NRRD.looksLikeNRRD(path) }

    public static func read(_ path: String, limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        if NRRD.looksLikeNRRD(path) { return try NRRD.read(path, limits: limits) }
        if NIfTI.looksLikeNIfTI(path) { return try NIfTI.read(path, limits: limits) }
        throw .unsupported(path: path, reason: "not a .nii, .nii.gz, .hdr, .nrrd or .nhdr file")
    }

    /// Opens a volume for reading slice by slice: its header is read and checked, no voxel yet.
    public static func open(_ path: String, limits: VolumeLimits = .standard) throws(VolumeError) -> VolumeReader {
        if NRRD.looksLikeNRRD(path) { return try VolumeReader(NRRD.open(path, limits: limits)) }
        if NIfTI.looksLikeNIfTI(path) { return try VolumeReader(NIfTI.open(path, limits: limits)) }
        throw .unsupported(path: path, reason: "not a .nii, .nii.gz, .hdr, .nrrd or .nhdr file")
    }

    /// Writes `voxels` on the grid of `like` to `path` (NIfTI or NRRD by the name; a NIfTI source can be written
    /// only as NIfTI and a NRRD one only as NRRD, so that no geometry is translated).
    public static func write(_ voxels: VolumeVoxels, like volume: Volume, to path: String) throws(VolumeError) {
        try write(voxels, like: volume.grid, to: path)
    }

    /// Writes `voxels` on `grid` (see `write(_:like:to:)`).
    public static func write(_ voxels: VolumeVoxels, like volume: VolumeGrid, to path: String) throws(VolumeError) {
        let writer = try VolumeWriter(voxels.kind, like: volume, to: path)
        try writer.append(voxels)
        try writer.commit()
    }
}
