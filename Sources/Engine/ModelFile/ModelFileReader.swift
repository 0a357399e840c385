/// Reads model files. Every offset, size, count, dtype and shape is checked against the file before
/// any data is touched, and the checksum is verified first; a bad file throws a `ModelFileError`
/// naming the problem, never traps.
public enum ModelFileReader {
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ModelFileError) -> Model {
        let fileSize = bytes.count
        if fileSize < ModelFileLayout.headerSize { throw .tooSmall(size: fileSize) }
        for i in 0..<8 where bytes[i] != ModelFileLayout.magic[i] { throw .badMagic }
        var h = ByteReader(bytes, section: "header", offset: 8, size: ModelFileLayout.headerSize - 8)
        let major = try h.u16(), minor = try h.u16()
        if !ModelFileLayout.readableMajorVersions.contains(major) { throw .unsupportedVersion(major: Int(major), minor: Int(minor)) }
        let marker = try h.u32()
        if marker != ModelFileLayout.endianMarker { throw .badEndianMarker(marker) }
        let declaredSize = try h.u64()
        if declaredSize != UInt64(fileSize) {
            throw .sizeMismatch(header: declaredSize > UInt64(Int.max) ? Int.max : Int(declaredSize), actual: fileSize)
        }
        func section(_ name: String, _ r: inout ByteReader) throws(ModelFileError) -> (Int, Int) {
            let offset = try r.u64(), size = try r.u64()
            let header = UInt64(ModelFileLayout.headerSize)
            if offset < header || offset > UInt64(fileSize) || size > UInt64(fileSize) - offset {
                throw .badSection(name: name, offset: offset > UInt64(Int.max) ? Int.max : Int(offset),
                                  size: size > UInt64(Int.max) ? Int.max : Int(size), fileSize: fileSize)
            }
            return (Int(offset), Int(size))
        }
        let metadataSection = try section("metadata", &h)
        let graphSection = try section("graph", &h)
        let directorySection = try section("tensor directory", &h)
        let tensorCount = Int(try h.u32())
        _ = try h.u32()
        let dataSection = try section("tensor data", &h)
        let stored = try h.u32()

        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[0..<ModelFileLayout.checksumOffset]))
        let zeros: [UInt8] = [0, 0, 0, 0]
        zeros.withUnsafeBytes { crc.update($0) }
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[(ModelFileLayout.checksumOffset + 4)...]))
        if crc.value != stored { throw .checksumMismatch(stored: stored, computed: crc.value) }

        var mr = ByteReader(bytes, section: "metadata", offset: metadataSection.0, size: metadataSection.1)
        let metadata = try decodeMetadata(&mr)

        var dr = ByteReader(bytes, section: "tensor directory", offset: directorySection.0, size: directorySection.1)
        if tensorCount > directorySection.1 / 16 {
            throw .invalid(section: "tensor directory", "tensor count \(tensorCount) does not fit the directory")
        }
        var parameters: [Parameter] = []
        for index in 0..<tensorCount {
            parameters.append(try decodeTensor(&dr, index: index, bytes: bytes, data: dataSection))
        }

        var gr = ByteReader(bytes, section: "graph", offset: graphSection.0, size: graphSection.1)
        var graph = try GraphCoding.decode(&gr, parameterCount: parameters.count, majorVersion: Int(major))
        graph.parameters = parameters
        do {
            try graph.validate()
        } catch {
            throw .invalid(section: "graph", error.description)
        }
        let model = Model(metadata: metadata, graph: graph)
        try checkShapes(model)
        return model
    }

    /// Runs shape inference at the model's smallest valid input so that a weight whose size does not
    /// match its layer is reported at load time, not at the first run.
    static func checkShapes(_ model: Model) throws(ModelFileError) {
        var probes: [TensorShape] = []
        for i in model.graph.inputNodes {
            guard case .input(let a) = model.graph.nodes[i].op else { continue }
            let side = model.inputMultiple * 2
            probes.append(TensorShape(batch: 1, channels: a.channels, depth: a.spatialRank == 3 ? side : nil, height: side, width: side))
        }
        do {
            _ = try model.graph.inferShapes(probes)
        } catch {
            throw .invalid(section: "graph", error.description)
        }
    }

    static func decodeTensor(_ r: inout ByteReader, index: Int, bytes: UnsafeRawBufferPointer,
                             data: (Int, Int)) throws(ModelFileError) -> Parameter {
        let name = try r.string()
        let rawType = try r.u8()
        guard let dtype = DType(rawValue: rawType) else {
            throw .invalid(section: "tensor directory", "tensor '\(name)' has unknown dtype \(rawType)")
        }
        let rank = Int(try r.u8())
        if rank < 1 || rank > ModelFileLayout.maxRank {
            throw .invalid(section: "tensor directory", "tensor '\(name)' has rank \(rank)")
        }
        var shape: [Int] = []
        var elements = 1
        for _ in 0..<rank {
            let d = Int(try r.u32())
            if d <= 0 || d > (1 << 30) || elements > (1 << 40) / d {
                throw .invalid(section: "tensor directory", "tensor '\(name)' has impossible dimension \(d)")
            }
            shape.append(d)
            elements *= d
        }
        var quantization: Quantization? = nil
        let hasQuantization = try r.u8()
        if hasQuantization > 1 { throw .invalid(section: "tensor directory", "tensor '\(name)': bad quantization flag") }
        if hasQuantization == 1 {
            let axis = try r.i32()
            let count = try r.count("scale", limit: ModelFileLayout.maxListCount, minBytesEach: 8)
            if axis < 0 || axis >= rank || (count != 1 && count != shape[axis]) {
                throw .invalid(section: "tensor directory", "tensor '\(name)': \(count) scales do not fit axis \(axis) of \(shape)")
            }
            var scales: [Float] = [], zeroPoints: [Int32] = []
            for _ in 0..<count { scales.append(try r.f32()) }
            for _ in 0..<count { zeroPoints.append(Int32(truncatingIfNeeded: try r.i32())) }
            for s in scales where !(s.isFinite && s > 0) {
                throw .invalid(section: "tensor directory", "tensor '\(name)' has a non-positive or non-finite scale")
            }
            quantization = Quantization(axis: axis, scales: scales, zeroPoints: zeroPoints)
        }
        let offset = try r.u64(), size = try r.u64()
        let expected = UInt64(elements * dtype.byteSize)
        if size != expected {
            throw .invalid(section: "tensor directory", "tensor '\(name)' has \(size) bytes, its shape \(shape) needs \(expected)")
        }
        let dataStart = UInt64(data.0), dataEnd = UInt64(data.0 + data.1)
        if offset < dataStart || offset > dataEnd || size > dataEnd - offset || offset % UInt64(ModelFileLayout.dataAlignment) != 0 {
            throw .invalid(section: "tensor directory",
                           "tensor '\(name)' at offset \(offset) (\(size) bytes) is outside the data section or misaligned")
        }
        let start = Int(offset)
        let values: ParameterData
        switch dtype {
        case .f32:
            var v = [Float](repeating: 0, count: elements)
            for i in 0..<elements {
                let p = start + 4 * i
                v[i] = Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
            }
            values = .f32(v)
        case .i8:
            var v = [Int8](repeating: 0, count: elements)
            for i in 0..<elements { v[i] = Int8(bitPattern: bytes[start + i]) }
            values = .i8(v)
        case .i32:
            var v = [Int32](repeating: 0, count: elements)
            for i in 0..<elements {
                let p = start + 4 * i
                v[i] = Int32(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
            }
            values = .i32(v)
        }
        if case .f32(let v) = values, v.contains(where: { !$0.isFinite }) {
            throw .invalid(section: "tensor data", "tensor '\(name)' contains NaN or infinity")
        }
        return Parameter(name: name, shape: shape, data: values, quantization: quantization)
    }

    /// A typed key/value list: the metadata section, and (format 2) each node's attributes. `section` names
    /// it in errors.
    static func decodeMetadata(_ r: inout ByteReader, section: String = "metadata") throws(ModelFileError) -> Metadata {
        var m = Metadata()
        let count = try r.count(section == "metadata" ? "metadata entry" : "attribute", limit: 1 << 16, minBytesEach: 5)
        for _ in 0..<count {
            let key = try r.string()
            if m[key] != nil { throw .invalid(section: section, "key '\(key)' appears twice") }
            let type = try r.u8()
            switch type {
            case 1: m[key] = .int(Int64(bitPattern: try r.u64()))
            case 2: m[key] = .float(try r.f64())
            case 3: m[key] = .string(try r.string())
            case 4:
                let n = try r.count("float", limit: ModelFileLayout.maxListCount, minBytesEach: 4)
                var v: [Float] = []
                for _ in 0..<n { v.append(try r.f32()) }
                m[key] = .floats(v)
            case 5:
                let n = try r.count("string", limit: ModelFileLayout.maxListCount, minBytesEach: 4)
                var v: [String] = []
                for _ in 0..<n { v.append(try r.string()) }
                m[key] = .strings(v)
            case 6:
                let n = try r.count("integer", limit: ModelFileLayout.maxListCount, minBytesEach: 8)
                var v: [Int64] = []
                for _ in 0..<n { v.append(Int64(bitPattern: try r.u64())) }
                m[key] = .ints(v)
            default:
                throw .invalid(section: section, "key '\(key)' has unknown value type \(type)")
            }
        }
        return m
    }
}
