/// Reads PNG and JPEG files by their content (not their extension) and writes PNG atomically.
public enum ImageFile {
    public static func read(_ path: String) throws(ImageIOError) -> Image {
        let bytes = try BinaryFile.read(path)
        if bytes.count >= 8 && bytes[0] == 0x89 && bytes[1] == 0x50 && bytes[2] == 0x4E && bytes[3] == 0x47 {
            return try PNGCodec.decode(bytes, path: path)
        }
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
            #if SEGRUN_EDGE
            throw .corrupt(path: path, reason: "JPEG is not supported by segrun-edge (PNG or raw input)")
            #else
            return try JPEGCodec.decode(bytes, path: path)
            #endif
        }
        if bytes.isEmpty { throw .corrupt(path: path, reason: "empty file") }
        throw .unknownFormat(path: path)
    }

    /// Writes 8-bit grey or RGB pixels as PNG (temporary file, then rename).
    public static func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to path: String) throws(ImageIOError) {
        let encoded: [UInt8]
        do {
            encoded = try PNGCodec.encode(pixels, width: width, height: height, channels: channels)
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        try BinaryFile.writeAtomically(encoded, to: path)
    }

    /// Writes 16-bit grey samples as PNG (temporary file, then rename).
    public static func writePNG16(_ samples: [UInt16], width: Int, height: Int, to path: String) throws(ImageIOError) {
        precondition(samples.count == width * height, "one sample per pixel")
        var raw: [UInt8] = []
        samples.withUnsafeBytes { raw = Array($0) }
        let encoded: [UInt8]
        do {
            encoded = try PNGCodec.encodeRaw(raw, width: width, height: height, format: PNGCodec.flagLinear)
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        try BinaryFile.writeAtomically(encoded, to: path)
    }

    /// True for names segrun treats as images when it scans a folder.
    public static func looksLikeImage(_ name: String) -> Bool {
        let lower = name.asciiLowercased
        return lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
    }
}
