import Kernels

/// The logical shape of an activation tensor: batch, channels, an optional depth, height and width.
///
/// `depth == nil` is a 2D image (N, C, H, W); a depth makes it a volume (N, C, D, H, W). Operator
/// attributes give one value per spatial axis (`SpatialWindow`), so shapes, shape inference, the model
/// file and the Float64 reference handle both. In memory activations are channels-last: NHWC, and NDHWC
/// for volumes, which is NHWC with D*H rows (`image`), so per-pixel ops run on volumes unchanged.
/// A 1D signal is a 2D tensor of height 1 (its ops take rank-1 windows along W).
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
    /// Rows of the channels-last layout: H for an image, D*H for a volume.
    public var rows: Int { (depth ?? 1) * height }
    public var elementsPerImage: Int { pixelsPerImage * channels }
    public var elementCount: Int { batch * elementsPerImage }

    /// The NHWC image shape the kernels take; a volume's depth folds into its rows (NDHWC is NHWC with D*H
    /// rows), which is what per-pixel kernels need. Spatial kernels take one depth slice at a time.
    public var image: ImageShape { ImageShape(batch: batch, channels: channels, height: (depth ?? 1) * height, width: width) }

    /// 2 for an image, 3 for a volume.
    public var spatialRank: Int { depth == nil ? 2 : 3 }

    /// The spatial extents in axis order ([D,] H, W). Setting 3 extents makes a volume, 2 an image.
    public var spatial: [Int] {
        get { depth.map { [$0, height, width] } ?? [height, width] }
        set {
            precondition(newValue.count == 2 || newValue.count == 3, "2 or 3 spatial extents")
            depth = newValue.count == 3 ? newValue[0] : nil
            height = newValue[newValue.count - 2]
            width = newValue[newValue.count - 1]
        }
    }

    public var description: String {
        if let depth { return "\(batch)x\(channels)x\(depth)x\(height)x\(width)" }
        return "\(batch)x\(channels)x\(height)x\(width)"
    }
}
