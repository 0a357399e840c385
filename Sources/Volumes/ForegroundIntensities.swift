import ImageIO

/// The intensity fingerprint of one channel of a dataset of volumes, as nnU-Net takes it: statistics of the
/// voxels inside the label masks (the foreground), sampled evenly to about a million values over the cases.
/// CT's normalization window is made from them (`IntensityWindow.ct(foreground:)`); `segrun plan` prints them.
public struct ForegroundIntensities: Equatable {
    public var count: Int
    public var mean: Double
    public var std: Double
    public var minimum: Float
    public var maximum: Float
    /// The 0.5 and 99.5 percentiles.
    public var low: Float
    public var high: Float

    /// The statistics of `values` (nil when there are none).
    public init?(_ values: [Float]) {
        if values.isEmpty { return nil }
        let sorted = values.sorted()
        var sum = 0.0, squares = 0.0
        for v in sorted { sum += Double(v); squares += Double(v) * Double(v) }
        count = sorted.count
        mean = sum / Double(count)
        std = max(0, squares / Double(count) - mean * mean).squareRoot()
        minimum = sorted.first!
        maximum = sorted.last!
        low = IntensityWindow.percentile(sorted, 0.5)
        high = IntensityWindow.percentile(sorted, 99.5)
    }

    /// Foreground values of channel `channel` (image `channel` of each case): every k-th voxel, k chosen so
    /// that about `limit` values come from all cases together when an eighth of the voxels are foreground.
    public static func sample(_ cases: [VolumeCase], channel: Int, limit: Int = 1_000_000) throws(VolumeError) -> [Float] {
        var values: [Float] = []
        for k in cases where channel < k.images.count {
            guard let maskPath = k.mask else { continue }
            let image = try VolumeFile.read(k.images[channel]), mask = try VolumeFile.read(maskPath)
            let step = max(1, image.voxelCount / (limit / max(1, cases.count)) / 8)
            var i = 0
            while i < min(image.voxelCount, mask.voxelCount) {
                if mask.voxels[i] > 0 { values.append(image.voxels[i]) }
                i += step
            }
        }
        return values
    }
}
