import ImageIO

/// How a volume's intensities become a model's input samples (before the model's own mean and standard
/// deviation normalization). Recorded in a model as `input.volume_intensity`, one entry per channel.
///
/// - `percentile(low, high)`, the default for models trained on 8-bit image slices: clip each channel at its
///   own low and high percentiles, scale to [0, 1] and round down to 256 levels, exactly how `../shared/data`
///   made its PNG slices (0.5 and 99.5; checked pixel for pixel against them), so a model trained on them sees
///   a volume's slices as it saw its PNGs.
/// - `zscore` (MRI and other modalities, nnU-Net's default): per volume, subtract the mean and divide by the
///   standard deviation.
/// - `ct(low, high, mean, std)` (CT, nnU-Net's scheme): Hounsfield units clipped to the 0.5 and 99.5 percentiles
///   of the training set's foreground voxels, then normalized by their mean and standard deviation: the same
///   numbers for every scan, since CT intensities are absolute.
public enum IntensityWindow: Equatable, CustomStringConvertible {
    case percentile(low: Double, high: Double)
    case zscore
    case ct(low: Float, high: Float, mean: Float, std: Float)

    public static let standard = IntensityWindow.percentile(low: 0.5, high: 99.5)

    /// Parses "percentile:LOW:HIGH", "zscore" or "ct:LOW:HIGH:MEAN:STD".
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        switch parts.first {
        case "percentile":
            guard parts.count == 3, let low = Double(parts[1]), let high = Double(parts[2]), low >= 0, high <= 100, low < high else { return nil }
            self = .percentile(low: low, high: high)
        case "zscore":
            guard parts.count == 1 else { return nil }
            self = .zscore
        case "ct":
            let v = parts.dropFirst().compactMap { Float($0) }
            guard parts.count == 5, v.count == 4, v.allSatisfy({ $0.isFinite }), v[0] < v[1], v[3] > 0 else { return nil }
            self = .ct(low: v[0], high: v[1], mean: v[2], std: v[3])
        default:
            return nil
        }
    }

    /// One window per channel, comma-separated (a single window serves every channel).
    public static func list(_ text: String) -> [IntensityWindow]? {
        let windows = text.split(separator: ",").map { IntensityWindow(String($0)) }
        return windows.isEmpty || windows.contains(where: { $0 == nil }) ? nil : windows.map { $0! }
    }

    public var description: String {
        switch self {
        case .percentile(let low, let high): return "percentile:\(low):\(high)"
        case .zscore: return "zscore"
        case .ct(let low, let high, let mean, let std): return "ct:\(low):\(high):\(mean):\(std)"
        }
    }

    /// False for CT, whose numbers are fixed; the others need a pass over each volume's values first.
    var needsStatistics: Bool {
        if case .ct = self { return false }
        return true
    }

    /// The value at percentile `p` (0-100) of sorted `values`, interpolated between order statistics
    /// (numpy's default).
    public static func percentile(_ sorted: [Float], _ p: Double) -> Float {
        if sorted.isEmpty { return 0 }
        let position = p / 100 * Double(sorted.count - 1)
        let i = Int(position), f = Float(position - Double(i))
        return i + 1 < sorted.count ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i]
    }

    /// Maps channel `channel`'s values in place.
    func apply(_ values: inout ArraySlice<Float>) {
        resolved(needsStatistics ? IntensityStatistics(values, for: self) : IntensityStatistics(percentiles: [])).apply(&values)
    }

    /// The mapping of one channel once its statistics are known.
    func resolved(_ statistics: IntensityStatistics) -> IntensityMapping {
        switch self {
        case .percentile(let low, let high):
            let lo = statistics.percentile(low), hi = statistics.percentile(high)
            return .scaled(low: lo, scale: hi > lo ? 1 / (hi - lo) : 0)
        case .zscore:
            let n = Double(max(1, statistics.count)), mean = statistics.sum / n
            return .standardized(mean: mean, std: max(1e-8, (statistics.squares / n - mean * mean).squareRoot()))
        case .ct(let low, let high, let mean, let std):
            return .clipped(low: low, high: high, mean: mean, std: std)
        }
    }

    /// `volume` with every channel mapped (channel c by `windows[c]`, or the last window).
    public static func apply(_ windows: [IntensityWindow], to volume: Volume) -> Volume {
        var out = volume
        apply(windows, to: &out.voxels, channels: volume.channels, voxelsPerChannel: volume.voxelCount)
        return out
    }

    /// Channel-major voxels (`channels` blocks of `voxelsPerChannel`) mapped in place, channel c by `windows[c]`,
    /// or the last window.
    public static func apply(_ windows: [IntensityWindow], to voxels: inout [Float], channels: Int, voxelsPerChannel n: Int) {
        for c in 0..<channels {
            var values = voxels[(c * n)..<((c + 1) * n)]
            windows[min(c, windows.count - 1)].apply(&values)
            voxels.replaceSubrange((c * n)..<((c + 1) * n), with: values)
        }
    }

    /// `volume` with every channel mapped by this window.
    public func apply(_ volume: Volume) -> Volume { IntensityWindow.apply([self], to: volume) }

    /// The CT window of a set of scans: the 0.5 and 99.5 percentiles, mean and standard deviation of the voxels
    /// inside their label masks (`foreground` lists them, sampled to at most `limit` values).
    public static func ct(foreground values: [Float]) -> IntensityWindow? {
        if values.count < 2 { return nil }
        let sorted = values.sorted()
        // A constant foreground (a phantom) gets a window one unit wide, so the window stays a valid one.
        let low = percentile(sorted, 0.5), high = max(percentile(sorted, 99.5), low + 1)
        var sum = 0.0, squares = 0.0
        for v in sorted { let c = Double(min(high, max(low, v))); sum += c; squares += c * c }
        let n = Double(sorted.count), mean = sum / n
        let std = max(1e-6, (squares / n - mean * mean).squareRoot())
        return .ct(low: low, high: high, mean: Float(mean), std: Float(std))
    }
}
