import CPNG

/// PNG through libpng's simplified API (`png_image_*`), which reports errors in the struct and needs
/// no setjmp. Reads 8- and 16-bit grey, grey+alpha, RGB and RGBA (also palette files, expanded);
/// writes 8-bit grey and RGB.
public enum PNGCodec {
    // The PNG_FORMAT_* and PNG_IMAGE_VERSION macros are not imported into Swift.
    static let imageVersion: UInt32 = 1
    static let flagAlpha: UInt32 = 0x01
    static let flagColor: UInt32 = 0x02
    static let flagLinear: UInt32 = 0x04

    public static func decode(_ bytes: [UInt8], path: String) throws(ImageIOError) -> Image {
        var image = png_image()
        image.version = imageVersion
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        if begun == 0 { throw .corrupt(path: path, reason: message(&image)) }
        let fileFormat = image.format
        let color = fileFormat & flagColor != 0, alpha = fileFormat & flagAlpha != 0
        let sixteen = fileFormat & flagLinear != 0
        // Read in the file's own layout (no gamma or background conversion), then drop alpha here.
        image.format = (color ? flagColor : 0) | (alpha ? flagAlpha : 0) | (sixteen ? flagLinear : 0)
        let components = (color ? 3 : 1) + (alpha ? 1 : 0)
        let width = Int(image.width), height = Int(image.height)
        if width <= 0 || height <= 0 || width > 1 << 15 || height > 1 << 15 {
            png_image_free(&image)
            throw .unsupported(path: path, reason: "size \(width)x\(height)")
        }
        do { try ImageLimits.check(width: width, height: height, components: components, path: path) } catch {
            png_image_free(&image)
            throw error
        }
        let count = width * height * components
        let channels = color ? 3 : 1
        var samples = [Float](repeating: 0, count: width * height * channels)
        if sixteen {
            var buffer = [UInt16](repeating: 0, count: count)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            if ok == 0 { throw .corrupt(path: path, reason: message(&image)) }
            for p in 0..<(width * height) { for c in 0..<channels { samples[p * channels + c] = Float(buffer[p * components + c]) / 65535 } }
        } else {
            var buffer = [UInt8](repeating: 0, count: count)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            if ok == 0 { throw .corrupt(path: path, reason: message(&image)) }
            for p in 0..<(width * height) { for c in 0..<channels { samples[p * channels + c] = Float(buffer[p * components + c]) / 255 } }
        }
        return Image(width: width, height: height, channels: channels, bitDepth: sixteen ? 16 : 8, samples: samples)
    }

    /// Encodes 8-bit grey (1 channel) or RGB (3 channels) pixels, row-major and interleaved.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws(ImageIOError) -> [UInt8] {
        precondition(channels == 1 || channels == 3, "PNG output is grey or RGB")
        precondition(pixels.count == width * height * channels, "pixel count does not match \(width)x\(height)x\(channels)")
        var image = png_image()
        image.version = imageVersion
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 3 ? flagColor : 0
        var size = 0
        let sized = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        if sized == 0 { throw .cannotWrite(path: "<memory>", reason: message(&image)) }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { o in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        if ok == 0 { throw .cannotWrite(path: "<memory>", reason: message(&image)) }
        return Array(out.prefix(size))
    }

    /// Encodes raw samples in any simplified-API layout (`format` flags; 16-bit when `flagLinear` is set).
    /// Used by tests to make 16-bit, grey+alpha and RGBA files.
    static func encodeRaw(_ raw: [UInt8], width: Int, height: Int, format: UInt32) throws(ImageIOError) -> [UInt8] {
        var image = png_image()
        image.version = imageVersion
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format
        var size = 0
        let sized = raw.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        if sized == 0 { throw .cannotWrite(path: "<memory>", reason: message(&image)) }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { o in
            raw.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        if ok == 0 { throw .cannotWrite(path: "<memory>", reason: message(&image)) }
        return Array(out.prefix(size))
    }

    static func message(_ image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
        png_image_free(&image)
        return text.isEmpty ? "libpng error" : text
    }
}
