/// A raw tensor file: "SGTN", rank (u32), dims (u32 each), then f32 values, all little-endian.
/// Used to hand inputs and reference outputs between builds (the ARM check), not by users.
public enum TensorFile {
    public static func encode(_ t: Tensor) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: Array("SGTN".utf8))
        w.u32(4)
        for d in [t.shape.batch, t.shape.channels, t.shape.height, t.shape.width] { w.u32(UInt32(d)) }
        for v in t.data { w.f32(v) }
        return w.bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ModelFileError) -> Tensor {
        var r = ByteReader(bytes, section: "tensor file", offset: 0, size: bytes.count)
        let magic = [try r.u8(), try r.u8(), try r.u8(), try r.u8()]
        if magic != Array("SGTN".utf8) { throw .badMagic }
        if try r.u32() != 4 { throw .invalid(section: "tensor file", "rank must be 4") }
        var dims: [Int] = []
        for _ in 0..<4 { dims.append(Int(try r.u32())) }
        let shape = TensorShape(batch: dims[0], channels: dims[1], height: dims[2], width: dims[3])
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
