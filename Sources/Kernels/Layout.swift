/// Conversions between the API's planar NCHW and the kernels' NHWC storage.
public enum Layout {
    /// Planar NCHW (`src`) to NHWC (`dst`). Both hold `shape.elementCount` floats.
    public static func nchwToNHWC(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: ImageShape) {
        let plane = shape.pixelsPerImage, c = shape.channels
        for n in 0..<shape.batch {
            let s = src + n * shape.elementsPerImage, d = dst + n * shape.elementsPerImage
            for ch in 0..<c {
                for p in 0..<plane { d[p &* c &+ ch] = s[ch &* plane &+ p] }
            }
        }
    }

    /// NHWC (`src`) to planar NCHW (`dst`).
    public static func nhwcToNCHW(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: ImageShape) {
        let plane = shape.pixelsPerImage, c = shape.channels
        for n in 0..<shape.batch {
            let s = src + n * shape.elementsPerImage, d = dst + n * shape.elementsPerImage
            for ch in 0..<c {
                for p in 0..<plane { d[ch &* plane &+ p] = s[p &* c &+ ch] }
            }
        }
    }
}
