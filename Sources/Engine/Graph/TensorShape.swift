import Kernels

/// The logical shape of an activation tensor: batch, channels, an optional depth, height and width.
///
/// `depth == nil` is a 2D image (N, C, H, W); a depth makes it a volume (N, C, D, H, W), so 3D models
/// (V-Net, 3D U-Net) fit the same IR, file format and planner. This release executes 2D only.
/// In memory, 2D activations are NHWC (see `ImageShape`).
public struct TensorShape: Equatable, Hashable, CustomStringConvertible {
    public var batch: Int
    public var channels: Int
    public var depth: Int?
    public var height: Int
    public var width: Int

    public init(batch: Int = 1, channels: Int, depth: Int? = nil, height: Int, width: Int) {
        self.batch = batch
        self.channels = channels
        self.depth = depth
        self.height = height
        self.width = width
    }

    public var pixelsPerImage: Int { (depth ?? 1) * height * width }
    public var elementsPerImage: Int { pixelsPerImage * channels }
    public var elementCount: Int { batch * elementsPerImage }

    /// The NHWC image shape the kernels take (2D only).
    public var image: ImageShape { ImageShape(batch: batch, channels: channels, height: height, width: width) }

    public var description: String {
        if let depth { return "\(batch)x\(channels)x\(depth)x\(height)x\(width)" }
        return "\(batch)x\(channels)x\(height)x\(width)"
    }
}
