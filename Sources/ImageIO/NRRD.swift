/// A NRRD header: its fields in file order (keys lowercased), for reading the geometry and for writing a
/// volume of the same geometry with only the fields that describe the voxels changed.
public struct NRRDHeader: Equatable {
    /// The magic line ("NRRD0004" and the like).
    public var magic: String
    /// `key: value` fields in order (comments dropped, keys lowercased).
    public var fields: [(String, String)]

    public init(magic: String, fields: [(String, String)]) {
        self.magic = magic
        self.fields = fields
    }

    public static func == (a: NRRDHeader, b: NRRDHeader) -> Bool {
        a.magic == b.magic && a.fields.map { $0.0 } == b.fields.map { $0.0 } && a.fields.map { $0.1 } == b.fields.map { $0.1 }
    }

    public subscript(_ key: String) -> String? { fields.first { $0.0 == key }?.1 }

    /// A per-axis field split into its entries: words, or parenthesized vectors such as `(1,0,0)`.
    static func entries(_ value: String) -> [String] {
        var out: [String] = [], current = "", depth = 0
        for ch in value {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if (ch == " " || ch == "\t") && depth == 0 {
                if !current.isEmpty { out.append(current); current = "" }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    static func vector(_ text: String) -> [Double]? {
        guard text.hasPrefix("("), text.hasSuffix(")") else { return nil }
        let parts = text.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: " \t") }
        let values = parts.compactMap { Double($0) }
        return values.count == parts.count ? values : nil
    }

    /// Fields that hold one entry per axis.
    static let perAxis: Set<String> = ["sizes", "spacings", "thicknesses", "axis mins", "axismins", "axis maxs", "axismaxs",
                                       "centers", "centerings", "labels", "units", "kinds", "space directions"]
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}

/// NRRD volumes (`.nrrd`, and `.nhdr` with a detached data file): raw and gzip encodings, either byte
/// order, the usual integer and float types, `space directions`, `space origin` and `space`.
public enum NRRD {
    static func voxelType(_ name: String) -> VoxelType? {
        switch name {
        case "signed char", "int8", "int8_t": return .int8
        case "uchar", "unsigned char", "uint8", "uint8_t": return .uint8
        case "short", "short int", "signed short", "signed short int", "int16", "int16_t": return .int16
        case "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t": return .uint16
        case "int", "signed int", "int32", "int32_t": return .int32
        case "uint", "unsigned int", "uint32", "uint32_t": return .uint32
        case "longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t": return .int64
        case "ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t": return .uint64
        case "float": return .float32
        case "double": return .float64
        default: return nil
        }
    }

    static func typeName(_ t: VoxelType) -> String {
        switch t {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float32: return "float"
        case .float64: return "double"
        }
    }

    public static func looksLikeNRRD(_ path: String) -> Bool {
        let lower = path.asciiLowercased
        return lower.hasSuffix(".nrrd") || lower.hasSuffix(".nhdr")
    }

    /// Splits a file into its header and the offset where attached data begins.
    static func parseHeader(_ bytes: [UInt8], path: String) throws(VolumeError) -> (NRRDHeader, Int) {
        guard bytes.count >= 8, String(decoding: bytes[0..<4], as: UTF8.self) == "NRRD" else {
            throw .invalid(path: path, field: "magic", reason: "the file does not start with NRRD")
        }
        var lines: [String] = [], start = 0, i = 0, end = -1
        // The header ends at the first empty line; it must do so within 1 MiB.
        while i < min(bytes.count, 1 << 20) {
            if bytes[i] == 0x0A {
                var line = String(decoding: bytes[start..<i], as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                if line.isEmpty { end = i + 1; break }
                lines.append(line)
                start = i + 1
            }
            i += 1
        }
        if end < 0 {
            if start == bytes.count || i == bytes.count {
                // A detached header may end without an empty line.
                if start < bytes.count { lines.append(String(decoding: bytes[start..<bytes.count], as: UTF8.self)) }
                end = bytes.count
            } else {
                throw .corrupt(path: path, reason: "no end of header in the first MiB")
            }
        }
        var header = NRRDHeader(magic: lines.first ?? "", fields: [])
        for line in lines.dropFirst() where !line.hasPrefix("#") {
            // "key: value" (fields) or "key:=value" (key/value pairs, kept too).
            guard let colon = line.firstIndex(of: ":") else { throw .invalid(path: path, field: line, reason: "is not a 'key: value' line") }
            let key = String(line[..<colon]).asciiLowercased.trimmingCharacters(in: " \t")
            var value = String(line[line.index(after: colon)...])
            if value.hasPrefix("=") { value.removeFirst() }
            header.fields.append((key, value.trimmingCharacters(in: " \t")))
        }
        return (header, end)
    }

    /// Reads a volume; `limits` bounds what the header may claim before any allocation.
    public static func read(_ path: String, limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        let (grid, layout) = try open(path, limits: limits)
        return Volume(grid: grid, voxels: try layout.readAll())
    }

    /// Decodes a NRRD held in memory (a detached `data file` is read relative to `path`).
    public static func decode(_ bytes: [UInt8], path: String = "<memory>", limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        let (grid, layout) = try open(header: bytes, data: .memory(bytes), path: path, limits: limits)
        return Volume(grid: grid, voxels: try layout.readAll())
    }

    /// The header of a file, checked, and where its voxels are (the header is read from the file's first MiB).
    static func open(_ path: String, limits: VolumeLimits) throws(VolumeError) -> (VolumeGrid, VoxelLayout) {
        let stream = try VolumeStream(.file(path), compressed: false, path: path)
        let first = try stream.read(min(VolumeStream.fileSize(path), (1 << 20) + 1))
        return try open(header: first, data: .file(path), path: path, limits: limits)
    }

    /// `bytes` holds the header (and possibly more); `data` is the whole file.
    static func open(header bytes: [UInt8], data: VolumeData, path: String, limits: VolumeLimits) throws(VolumeError) -> (VolumeGrid, VoxelLayout) {
        let (header, dataStart) = try parseHeader(bytes, path: path)
        guard let typeName = header["type"], let type = voxelType(typeName) else {
            throw .unsupported(path: path, reason: "type '\(header["type"] ?? "missing")'; segrun reads (u)int8/16/32/64, float and double")
        }
        guard let dimText = header["dimension"], let dimension = Int(dimText), (1...4).contains(dimension) else {
            throw .invalid(path: path, field: "dimension", reason: "'\(header["dimension"] ?? "missing")' is not 1 to 4")
        }
        let sizes = NRRDHeader.entries(header["sizes"] ?? "").map { Int($0) ?? -1 }
        guard sizes.count == dimension, sizes.allSatisfy({ $0 >= 1 }) else {
            throw .invalid(path: path, field: "sizes", reason: "'\(header["sizes"] ?? "missing")' is not \(dimension) positive sizes")
        }
        // Spatial axes: those with a space direction (or all, without one); one other axis becomes channels.
        let directionEntries = header["space directions"].map(NRRDHeader.entries)
        if let d = directionEntries, d.count != dimension {
            throw .invalid(path: path, field: "space directions", reason: "\(d.count) entries for \(dimension) axes")
        }
        var channelAxis: Int? = nil
        if let d = directionEntries {
            let none = d.indices.filter { d[$0] == "none" }
            if none.count > 1 || (none.count == 1 && none[0] != 0 && none[0] != dimension - 1) {
                throw .unsupported(path: path, reason: "non-spatial axes \(none); segrun reads one, first or last")
            }
            channelAxis = none.first
        } else if dimension == 4 {
            let kinds = NRRDHeader.entries(header["kinds"] ?? "")
            channelAxis = kinds.first.map { ["domain", "space"].contains($0) } == false ? 0 : 3
        }
        let spatialAxes = (0..<dimension).filter { $0 != channelAxis }
        if spatialAxes.count > 3 { throw .unsupported(path: path, reason: "\(spatialAxes.count) spatial axes") }
        let size = (0..<3).map { $0 < spatialAxes.count ? sizes[spatialAxes[$0]] : 1 }
        let channels = channelAxis.map { sizes[$0] } ?? 1
        let count = try checkedProduct(sizes, limit: limits.maxValues, path: path)

        // Geometry: space directions and origin, else spacings.
        var columns: [[Double]] = []
        if let d = directionEntries {
            for axis in spatialAxes {
                guard let v = NRRDHeader.vector(d[axis]), v.allSatisfy({ $0.isFinite }) else {
                    throw .invalid(path: path, field: "space directions", reason: "'\(d[axis])' is not a vector of numbers")
                }
                columns.append(v + [Double](repeating: 0, count: max(0, 3 - v.count)))
            }
        } else {
            let spacings = NRRDHeader.entries(header["spacings"] ?? "").map { Double($0) ?? .nan }
            for (k, axis) in spatialAxes.enumerated() {
                let s = axis < spacings.count ? spacings[axis] : 1
                guard s.isFinite, s > 0 else { throw .invalid(path: path, field: "spacings", reason: "\(s) is not a spacing") }
                var column = [0.0, 0.0, 0.0]
                column[k] = s
                columns.append(column)
            }
        }
        while columns.count < 3 { var c = [0.0, 0.0, 0.0]; c[columns.count] = 1; columns.append(c) }
        var origin = [0.0, 0.0, 0.0]
        if let o = header["space origin"] {
            guard let v = NRRDHeader.vector(o), v.allSatisfy({ $0.isFinite }) else {
                throw .invalid(path: path, field: "space origin", reason: "'\(o)' is not a vector of numbers")
            }
            for i in 0..<min(3, v.count) { origin[i] = v[i] }
        }
        let spacing = columns.map { c in (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).squareRoot() }
        if spacing.contains(where: { !($0 > 0) }) { throw .invalid(path: path, field: "space directions", reason: "a zero-length direction") }
        // World space as RAS+ (NIfTI's): LPS and LAS flip their axes.
        let space = (header["space"] ?? "").asciiLowercased
        let flip: [Double]
        switch space {
        case "left-posterior-superior", "lps": flip = [-1, -1, 1]
        case "left-anterior-superior", "las": flip = [-1, 1, 1]
        default: flip = [1, 1, 1]
        }
        let affine = (0..<3).map { r in (0..<3).map { c in flip[r] * columns[c][r] } + [flip[r] * origin[r]] } + [[0, 0, 0, 1]]

        // Data: attached after the header or in `data file`, raw or gzip.
        let encoding = (header["encoding"] ?? "raw").asciiLowercased
        guard ["raw", "gzip", "gz"].contains(encoding) else {
            throw .unsupported(path: path, reason: "encoding '\(encoding)'; segrun reads raw and gzip")
        }
        let needed = count * type.bytes
        var voxelData = data, fileOffset = dataStart, dataSize: Int
        if let file = header["data file"] ?? header["datafile"] {
            if file.hasPrefix("LIST") || file.contains("%") { throw .unsupported(path: path, reason: "multi-file data ('\(file)')") }
            let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
            let dataPath = file.hasPrefix("/") ? file : directory + file
            voxelData = .file(dataPath)
            fileOffset = 0
            dataSize = try VolumeStream.fileSize(dataPath)
        } else {
            switch data {
            case .memory(let all): dataSize = all.count - dataStart
            case .file(let name): dataSize = try VolumeStream.fileSize(name) - dataStart
            }
        }
        let shape = "\(sizes.map(String.init).joined(separator: "x")) \(typeName)"
        if encoding == "raw" {
            // Raw data is the last `needed` bytes (a byte skip may precede it).
            guard dataSize >= needed else {
                throw .corrupt(path: path, reason: "\(dataSize) bytes of data, the header's \(shape) voxels need \(needed)")
            }
            fileOffset += dataSize - needed
        }
        let bigEndian = (header["endian"] ?? "little").asciiLowercased == "big"
        let layout = VoxelLayout(data: voxelData, path: path, fileOffset: fileOffset, compressed: encoding != "raw", type: type,
                                 swap: bigEndian && type.bytes > 1, scale: nil, size: size, channels: channels,
                                 interleaved: channelAxis == 0 && channels > 1,
                                 need: "the header's \(shape) voxels need \(needed) bytes")
        let grid = VolumeGrid(size: size, channels: channels, spacing: spacing, affine: affine,
                              units: NRRDHeader.entries(header["space units"] ?? "").first.map { $0.replacingQuotes } ?? "",
                              source: .nrrd(header))
        return (grid, layout)
    }

    /// Writes `voxels` (x fastest) as an attached, gzip-encoded NRRD in the geometry of `like` (its fields, with
    /// type, dimension, sizes, encoding and endianness replaced and any channel axis dropped). Atomic.
    public static func write(_ voxels: VolumeVoxels, size: [Int], like header: NRRDHeader, to path: String) throws(VolumeError) {
        guard voxels.count == size.reduce(1, *) else { throw .cannotWrite(path: path, reason: "\(voxels.count) voxels for a \(size) grid") }
        let sink = try startWriting(voxels.kind, size: size, like: header, to: path)
        try voxels.write(to: sink, bigEndian: false)
        try sink.commit()
    }

    /// A sink holding the header of a file of `kind` voxels on `size`; the voxels follow in file order.
    static func startWriting(_ kind: VolumeVoxelKind, size: [Int], like header: NRRDHeader, to path: String) throws(VolumeError) -> VolumeSink {
        let dimension = Int(header["dimension"] ?? "3") ?? 3
        let directions = header["space directions"].map(NRRDHeader.entries)
        var keep = Array(0..<dimension)
        if let d = directions, let none = d.firstIndex(of: "none") { keep.removeAll { $0 == none } }
        else if dimension == 4 { keep = Array(0..<3) }
        let spatial = keep.count
        var out = NRRDHeader(magic: "NRRD0004", fields: [])
        let type = kind.nrrd
        out.fields.append(("type", type))
        out.fields.append(("dimension", "\(spatial)"))
        for (key, value) in header.fields {
            switch key {
            case "type", "dimension", "encoding", "endian", "data file", "datafile", "byte skip", "byteskip", "line skip", "lineskip",
                 "content", "min", "max", "old min", "old max", "oldmin", "oldmax", "sizes":
                continue
            default:
                if NRRDHeader.perAxis.contains(key) {
                    let e = NRRDHeader.entries(value)
                    out.fields.append((key, keep.filter { $0 < e.count }.map { e[$0] }.joined(separator: " ")))
                } else {
                    out.fields.append((key, value))
                }
            }
        }
        out.fields.insert(("sizes", size.prefix(spatial).map(String.init).joined(separator: " ")), at: 2)
        out.fields.append(("endian", "little"))
        out.fields.append(("encoding", "gzip"))
        var text = out.magic + "\n"
        for (k, v) in out.fields { text += "\(k): \(v)\n" }
        let sink = try VolumeSink(path: path, gzip: true)
        try sink.append(Array((text + "\n").utf8), compressed: false)
        return sink
    }
}

extension String {
    fileprivate var replacingQuotes: String { String(filter { $0 != "\"" }) }
}
