import ImageIO

/// How a volume's intensities become the [0, 1] samples a model's normalization starts from.
///
/// `percentile(low, high)`, the default for models trained on 8-bit image slices, clips each channel at its
/// own low and high percentiles, scales that range to [0, 1] and rounds down to 256 levels: exactly how
/// `../shared/data` made its PNG slices (0.5 and 99.5; checked pixel for pixel against them), so a model
/// trained on them sees a volume's slices as it saw its PNGs.
public enum IntensityWindow: Equatable, CustomStringConvertible {
    case percentile(low: Double, high: Double)

    public static let standard = IntensityWindow.percentile(low: 0.5, high: 99.5)

    /// Parses "percentile:LOW:HIGH" (what a model's `input.volume_intensity` metadata holds).
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 3, parts[0] == "percentile", let low = Double(parts[1]), let high = Double(parts[2]),
              low >= 0, high <= 100, low < high else { return nil }
        self = .percentile(low: low, high: high)
    }

    public var description: String {
        switch self {
        case .percentile(let low, let high): return "percentile:\(low):\(high)"
        }
    }

    /// (low, high) intensity of channel `channel` of `volume`.
    public func range(_ volume: Volume, channel: Int = 0) -> (Float, Float) {
        switch self {
        case .percentile(let low, let high):
            let n = volume.voxelCount
            var values = Array(volume.voxels[(channel * n)..<((channel + 1) * n)])
            values.sort()
            func at(_ p: Double) -> Float {
                // Linear interpolation between order statistics (numpy's default).
                let position = p / 100 * Double(values.count - 1)
                let i = Int(position), f = Float(position - Double(i))
                return i + 1 < values.count ? values[i] * (1 - f) + values[i + 1] * f : values[i]
            }
            return (at(low), at(high))
        }
    }

    /// `volume` with every channel mapped to [0, 1].
    public func apply(_ volume: Volume) -> Volume {
        var out = volume
        let n = volume.voxelCount
        for c in 0..<volume.channels {
            let (lo, hi) = range(volume, channel: c)
            let scale: Float = hi > lo ? 1 / (hi - lo) : 0
            for i in (c * n)..<((c + 1) * n) {
                let v = min(1, max(0, (volume.voxels[i] - lo) * scale))
                out.voxels[i] = (v * 255).rounded(.down) / 255
            }
        }
        return out
    }
}
