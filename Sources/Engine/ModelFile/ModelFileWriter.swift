/// Serializes a model into the model file format (see `ModelFileLayout` and docs/FORMAT.md).
public enum ModelFileWriter {
    public static func encode(_ model: Model) -> [UInt8] {
        encode(model, majorVersion: ModelFileLayout.majorVersion) { GraphCoding.encode($0, into: &$1) }
    }

    /// The file with its graph section written by `graph` under header version `majorVersion` (the tests
    /// write format 1 files, and files with attributes or ops this reader does not know, through it).
    static func encode(_ model: Model, majorVersion: UInt16, graph encodeGraph: (Graph, inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter()
        w.bytes = [UInt8](repeating: 0, count: ModelFileLayout.headerSize)

        let metadataOffset = w.bytes.count
        encodeMetadata(model.metadata, &w)
        let metadataSize = w.bytes.count - metadataOffset

        let graphOffset = w.bytes.count
        encodeGraph(model.graph, &w)
        let graphSize = w.bytes.count - graphOffset

        // Tensor directory: offsets into the data section are patched once the data is laid out.
        let directoryOffset = w.bytes.count
        var offsetSlots: [Int] = []
        for p in model.graph.parameters {
            w.string(p.name)
            w.u8(dtype(p.data).rawValue)
            w.u8(UInt8(p.shape.count))
            for d in p.shape { w.u32(UInt32(d)) }
            if let q = p.quantization {
                w.u8(1)
                w.i32(q.axis)
                w.u32(UInt32(q.scales.count))
                for s in q.scales { w.f32(s) }
                for z in q.zeroPoints { w.i32(Int(z)) }
            } else {
                w.u8(0)
            }
            offsetSlots.append(w.bytes.count)
            w.u64(0)
            w.u64(UInt64(p.data.count * dtype(p.data).byteSize))
        }
        let directorySize = w.bytes.count - directoryOffset

        w.align(ModelFileLayout.dataAlignment)
        let dataOffset = w.bytes.count
        for (i, p) in model.graph.parameters.enumerated() {
            w.align(ModelFileLayout.dataAlignment)
            w.patch64(at: offsetSlots[i], UInt64(w.bytes.count))
            switch p.data {
            case .f32(let v): for x in v { w.f32(x) }
            case .i8(let v): for x in v { w.u8(UInt8(bitPattern: x)) }
            case .i32(let v): for x in v { w.i32(Int(x)) }
            }
        }
        let dataSize = w.bytes.count - dataOffset

        // Header.
        var h = ByteWriter()
        h.bytes.append(contentsOf: ModelFileLayout.magic)
        h.u16(majorVersion)
        h.u16(ModelFileLayout.minorVersion)
        h.u32(ModelFileLayout.endianMarker)
        h.u64(UInt64(w.bytes.count))
        for v in [metadataOffset, metadataSize, graphOffset, graphSize, directoryOffset, directorySize] { h.u64(UInt64(v)) }
        h.u32(UInt32(model.graph.parameters.count))
        h.u32(0)
        h.u64(UInt64(dataOffset))
        h.u64(UInt64(dataSize))
        for i in 0..<h.bytes.count { w.bytes[i] = h.bytes[i] }
        let crc = w.bytes.withUnsafeBytes { CRC32.checksum($0) }
        w.patch32(at: ModelFileLayout.checksumOffset, crc)
        return w.bytes
    }

    static func dtype(_ data: ParameterData) -> DType {
        switch data {
        case .f32: return .f32
        case .i8: return .i8
        case .i32: return .i32
        }
    }

    static func encodeMetadata(_ m: Metadata, _ w: inout ByteWriter) {
        w.u32(UInt32(m.entries.count))
        for (key, value) in m.entries {
            w.string(key)
            switch value {
            case .int(let v): w.u8(1); w.u64(UInt64(bitPattern: v))
            case .float(let v): w.u8(2); w.f64(v)
            case .string(let v): w.u8(3); w.string(v)
            case .floats(let v): w.u8(4); w.u32(UInt32(v.count)); for x in v { w.f32(x) }
            case .strings(let v): w.u8(5); w.u32(UInt32(v.count)); for x in v { w.string(x) }
            case .ints(let v): w.u8(6); w.u32(UInt32(v.count)); for x in v { w.u64(UInt64(bitPattern: x)) }
            }
        }
    }
}
