import ImageIO

/// The z slices of a volume file, normalized and resampled to a model's spacing, made as the model asks for
/// them while the file is read in order, so memory holds a few slices and never the volume.
///
/// The intensity windows' statistics come first, from one or two passes over the file (`IntensityStatistics`:
/// exact percentiles without holding the values). Each slice is then windowed, resampled in plane (x, then
/// y), and the model's slices are interpolated between the two nearest input slices: the operations, in the
/// order, of `IntensityWindow.apply` and `VolumeResampling.resample` on the whole volume, so both give the
/// same bits.
final class StreamedSlices {
    /// The model grid: the input's size resampled to the target spacing.
    let size: [Int]
    private let reader: VolumeReader
    private let grid: VolumeGrid
    private let mappings: [IntensityMapping]
    private let nearest: [Bool]
    private let interpolation: ImageInterpolation
    private let zTaps: [(Int, Int, Float)]
    private let zCubicTaps: [((Int, Int, Int, Int), (Float, Float, Float, Float))]
    /// Input slices read so far, windowed and resampled in plane, by input z (the ones still needed).
    private var inputs: [Int: [Float]] = [:]
    /// Model slices as image rows, by model z (the last `keep`).
    private var made: [Int: [Float]] = [:]
    private let keep: Int

    /// `keep`: model slices kept behind the latest one asked for (a 2.5D model's neighbours and a batch).
    init(_ reader: VolumeReader, windows: [IntensityWindow], target: [Double]?, interpolation: ImageInterpolation = .linear, keep: Int = 16) throws {
        self.reader = reader
        self.keep = keep
        grid = reader.grid
        let channelWindows = (0..<grid.channels).map { windows[min($0, windows.count - 1)] }
        var statistics = channelWindows.map { IntensityStatistics(percentiles: $0.percentileBounds) }
        let passes = zip(channelWindows, statistics).map { $0.needsStatistics ? $1.passes : 0 }
        let n = grid.size[0] * grid.size[1]
        for pass in 0..<(passes.max() ?? 0) {
            try reader.rewind()
            while let slice = try reader.nextSlice() {
                for c in 0..<grid.channels where pass < passes[c] { statistics[c].add(slice[(c * n)..<((c + 1) * n)], pass: pass) }
            }
            for c in 0..<grid.channels where pass < passes[c] { statistics[c].finish(pass: pass) }
        }
        mappings = (0..<grid.channels).map { channelWindows[$0].resolved(statistics[$0]) }
        try reader.rewind()
        let grid = reader.grid
        let size = target.map { VolumeResampling.size(grid.size, spacing: grid.spacing, target: $0) } ?? grid.size
        let nearest = target.map(VolumeResampling.nearestAxes) ?? [false, false, false]
        self.size = size
        self.nearest = nearest
        self.interpolation = interpolation
        zTaps = VolumeResampling.taps(grid.size[2], size[2], nearest: nearest[2])
        zCubicTaps = interpolation == .cubic && !nearest[2] ? VolumeResampling.cubicTaps(grid.size[2], size[2]) : []
    }

    /// Model slice `s` as image rows (row 0 at the top: y flipped), one plane per channel.
    func image(_ s: Int) throws -> [Float] {
        if let done = made[s] { return done }
        let (mx, my) = (size[0], size[1])
        var out = [Float](repeating: 0, count: grid.channels * mx * my)
        let plane = try planes(s)
        for c in 0..<grid.channels {
            for r in 0..<my {
                let from = (c * my + my - 1 - r) * mx, to = (c * my + r) * mx
                for x in 0..<mx { out[to + x] = plane[from + x] }
            }
        }
        made[s] = out
        for old in made.keys where old < s - keep { made[old] = nil }
        return out
    }

    /// Model slice `s` as volume planes (x fastest), one per channel: interpolated between input slices.
    func planes(_ s: Int) throws -> [Float] {
        if size[2] != grid.size[2] && !zCubicTaps.isEmpty {
            // The operations of `VolumeResampling.cubicAxis`, in its order.
            let (i, w) = zCubicTaps[s]
            for old in inputs.keys where old < i.0 { inputs[old] = nil }
            return VolumeResampling.cubicBlend((try input(i.0), try input(i.1), try input(i.2), try input(i.3)), w)
        }
        let (i0, i1, w) = zTaps[s]
        for old in inputs.keys where old < i0 { inputs[old] = nil }
        let a = try input(i0)
        if size[2] == grid.size[2] { return a }
        return VolumeResampling.blend(a, try input(i1), weight: w)
    }

    /// Input slice `z`, windowed and resampled in plane; reads the file up to it.
    private func input(_ z: Int) throws -> [Float] {
        while reader.next <= z {
            let k = reader.next
            guard let slice = try reader.nextSlice() else { break }
            let n = grid.size[0] * grid.size[1]
            var planes: [Float] = []
            planes.reserveCapacity(grid.channels * size[0] * size[1])
            for c in 0..<grid.channels {
                var values = slice[(c * n)..<((c + 1) * n)]
                mappings[c].apply(&values)
                var data = Array(values), current = [grid.size[0], grid.size[1], 1]
                for axis in 0..<2 where size[axis] != current[axis] {
                    (data, current) = VolumeResampling.resampleAxis(data, size: current, axis: axis, to: size[axis], nearest: nearest[axis],
                                                                  interpolation: interpolation)
                }
                planes += data
            }
            inputs[k] = planes
        }
        guard let found = inputs[z] else { throw VolumeError.corrupt(path: "", reason: "internal: slice \(z) was asked for after it was dropped") }
        return found
    }
}
