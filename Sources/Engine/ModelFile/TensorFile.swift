/// A raw tensor file: "SGTN", rank (u32: 4 for N, C, H, W; 5 for N, C, D, H, W), dims (u32 each), then f32
/// values in that order, all little-endian.
/// Used to hand inputs and reference outputs between builds (the ARM check), not by users.
public enum TensorFile {
    public static func encode(_ t: Tensor) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: Array("SGTN".utf8))
        let dims = [t.shape.batch, t.shape.channels] + t.shape.spatial
        w.u32(UInt32(dims.count))
        for d in dims { w.u32(UInt32(d)) }
        for v in t.data { w.f32(v) }
        return w.bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ModelFileError) -> Tensor {
        var r = ByteReader(bytes, section: "tensor file", offset: 0, size: bytes.count)
        let magic = [try r.u8(), try r.u8(), try r.u8(), try r.u8()]
        if magic != Array("SGTN".utf8) { throw .badMagic }
        let rank = try r.u32()
        if rank != 4 && rank != 5 { throw .invalid(section: "tensor file", "rank must be 4 or 5, got \(rank)") }
        var dims: [Int] = []
        for _ in 0..<rank { dims.append(Int(try r.u32())) }
        var bytes = 4
        for d in dims {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            if d == 0 || overflow || product > r.remaining { throw .invalid(section: "tensor file", "dims \(dims) do not match its size") }
            bytes = product
        }
        let shape = rank == 4 ? TensorShape(batch: dims[0], channels: dims[1], height: dims[2], width: dims[3])
            : TensorShape(batch: dims[0], channels: dims[1], depth: dims[2], height: dims[3], width: dims[4])
        if shape.elementCount * 4 != r.remaining { throw .invalid(section: "tensor file", "size does not match \(shape)") }
        var data = [Float](repeating: 0, count: shape.elementCount)
        for i in 0..<data.count { data[i] = try r.f32() }
        return Tensor(shape: shape, data: data)
    }

    public static func write(_ t: Tensor, to path: String) throws(ModelFileError) {
        try FileIO.writeAtomically(encode(t), to: path)
    }

    public static func read(_ path: String) throws(ModelFileError) -> Tensor {
        let file = try MappedFile(path: path)
        return try decode(file.bytes)
    }
}
