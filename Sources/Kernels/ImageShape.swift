/// The shape of a batch of images: logically (N, C, H, W) as at the API, stored NHWC.
///
/// Storage is NHWC with channels innermost and dense: element (n, c, y, x) lives at
/// `((n * height + y) * width + x) * channels + c`. Every kernel in this module reads and
/// writes that layout; the Engine's `LayoutConversion` converts from and to the API's planar NCHW.
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(batch: Int, channels: Int, height: Int, width: Int) {
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
    }

    public var pixelsPerImage: Int { height * width }
    public var elementsPerImage: Int { height * width * channels }
    public var elementCount: Int { batch * height * width * channels }
    public var isEmpty: Bool { batch <= 0 || channels <= 0 || height <= 0 || width <= 0 }

    public var description: String { "\(batch)x\(channels)x\(height)x\(width)" }
}
