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
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, cmykInverted: Int32 = -1
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            message.withUnsafeMutableBufferPointer { m in
                segrun_jpeg_decode(b.baseAddress, b.count, ImageLimits.maxValues, &pixels, &width, &height, &channels, &cmykInverted,
                                   m.baseAddress, m.count)
            }
        }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if status == 3 { throw .unsupported(path: path, reason: text) }
        if status != 0 || pixels == nil { throw .corrupt(path: path, reason: text.isEmpty ? "libjpeg error" : text) }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * Int(channels)
        if channels == 4 && cmykInverted >= 0 {
            return Image(width: Int(width), height: Int(height), channels: 3, bitDepth: 8,
                         samples: rgb(fromCMYK: UnsafeBufferPointer(start: pixels, count: count), inverted: cmykInverted == 1))
        }
        var samples = [Float](repeating: 0, count: count)
        for i in 0..<count { samples[i] = Float(pixels![i]) / 255 }
        return Image(width: Int(width), height: Int(height), channels: Int(channels), bitDepth: 8, samples: samples)
    }

    /// RGB in [0, 1] from CMYK inks: `R = (1 - C)(1 - K)` and likewise for G and B (the naive conversion,
    /// as libjpeg's own tools and most viewers make it without an ICC profile). Adobe files store the inks
    /// inverted (255 = no ink).
    static func rgb(fromCMYK inks: UnsafeBufferPointer<UInt8>, inverted: Bool) -> [Float] {
        let pixels = inks.count / 4
        var out = [Float](repeating: 0, count: pixels * 3)
        for p in 0..<pixels {
            func clear(_ k: Int) -> Float { let v = Float(inks[4 * p + k]) / 255; return inverted ? v : 1 - v }
            let black = clear(3)
            for c in 0..<3 { out[3 * p + c] = clear(c) * black }
        }
        return out
    }
}
