import JPEGShim
#if canImport(Glibc)
import Glibc
#endif

/// JPEG through libjpeg and the setjmp shim. libjpeg warnings are errors here: a truncated file
/// ("Premature end of JPEG file") decodes with the missing part filled grey, and segmenting that
/// would give silently wrong masks.
public enum JPEGCodec {
    public static func decode(_ bytes: [UInt8], path: String) throws(ImageIOError) -> Image {
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            message.withUnsafeMutableBufferPointer { m in
                segrun_jpeg_decode(b.baseAddress, b.count, &pixels, &width, &height, &channels, m.baseAddress, m.count)
            }
        }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if status != 0 || pixels == nil { throw .corrupt(path: path, reason: text.isEmpty ? "libjpeg error" : text) }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * Int(channels)
        var samples = [Float](repeating: 0, count: count)
        for i in 0..<count { samples[i] = Float(pixels![i]) / 255 }
        return Image(width: Int(width), height: Int(height), channels: Int(channels), bitDepth: 8, samples: samples)
    }
}
