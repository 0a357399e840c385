import ImageIO

/// Resampling volumes to a voxel spacing, as nnU-Net does for its 2D and 3D models: images linear (separable,
/// one axis at a time), labels nearest, and an axis much coarser than the others (more than 3x the finest
/// target spacing) nearest for images too, so slices are never blended across a thick gap. Voxel centres stay
/// aligned: output voxel o samples input coordinate `(o + 0.5) n / m - 0.5` along an axis of n input and m
/// output voxels.
public enum VolumeResampling {
    /// Voxels along each axis at `target` spacing: `round(n * spacing / target)`, at least 1.
    public static func size(_ size: [Int], spacing: [Double], target: [Double]) -> [Int] {
        (0..<3).map { max(1, Int((Double(size[$0]) * spacing[$0] / target[$0]).rounded())) }
    }

    /// The spacing of a volume after resampling toward `target`: `n s / m` per axis (a whole number of voxels
    /// makes it differ slightly from the target).
    public static func spacing(_ size: [Int], spacing: [Double], target: [Double]) -> [Double] {
        let out = self.size(size, spacing: spacing, target: target)
        if out == size { return spacing }
        return (0..<3).map { spacing[$0] * (Double(size[$0]) / Double(out[$0])) }
    }

    /// The axes resampled nearest: target spacing more than 3x the finest.
    static func nearestAxes(_ target: [Double]) -> [Bool] {
        let finest = target.min() ?? 1
        return target.map { $0 > 3 * finest }
    }

    /// `volume` at `target` spacing (every channel); the affine follows the new grid.
    public static func resample(_ volume: Volume, to target: [Double]) -> Volume {
        let out = size(volume.size, spacing: volume.spacing, target: target)
        if out == volume.size { return volume }
        let nearest = nearestAxes(target)
        var voxels: [Float] = []
        voxels.reserveCapacity(out.reduce(1, *) * volume.channels)
        let n = volume.voxelCount
        for c in 0..<volume.channels {
            var data = Array(volume.voxels[(c * n)..<((c + 1) * n)]), current = volume.size
            for axis in 0..<3 where out[axis] != current[axis] {
                (data, current) = resampleAxis(data, size: current, axis: axis, to: out[axis], nearest: nearest[axis])
            }
            voxels += data
        }
        var result = Volume(size: out, channels: volume.channels, voxels: voxels, spacing: volume.spacing, affine: volume.affine,
                            units: volume.units, source: volume.source)
        // Effective spacing n s / m per axis, and the affine scaled and shifted to the new voxel centres.
        var affine = volume.affine
        for j in 0..<3 {
            let ratio = Double(volume.size[j]) / Double(out[j])
            result.spacing[j] = volume.spacing[j] * ratio
            for i in 0..<3 {
                affine[i][3] += volume.affine[i][j] * (0.5 * ratio - 0.5)
                affine[i][j] = volume.affine[i][j] * ratio
            }
        }
        result.affine = affine
        return result
    }

    /// Labels of a grid of `from` voxels resampled to `to` voxels (nearest).
    public static func resampleLabels(_ labels: [UInt8], from: [Int], to: [Int]) -> [UInt8] {
        if from == to { return labels }
        let maps = (0..<3).map { axis in (0..<to[axis]).map { o in nearestIndex(o, from[axis], to[axis]) } }
        var out = [UInt8](repeating: 0, count: to.reduce(1, *))
        for z in 0..<to[2] {
            for y in 0..<to[1] {
                let base = (maps[2][z] * from[1] + maps[1][y]) * from[0], row = (z * to[1] + y) * to[0]
                for x in 0..<to[0] { out[row + x] = labels[base + maps[0][x]] }
            }
        }
        return out
    }

    @inline(__always)
    static func coordinate(_ o: Int, _ n: Int, _ m: Int) -> Double { (Double(o) + 0.5) * Double(n) / Double(m) - 0.5 }

    @inline(__always)
    static func nearestIndex(_ o: Int, _ n: Int, _ m: Int) -> Int { min(n - 1, max(0, Int(coordinate(o, n, m).rounded()))) }

    /// Per output position along an axis of `n` input and `m` output voxels: the two input neighbours and the
    /// weight of the second (the same neighbour twice, weight 0, when `nearest`).
    static func taps(_ n: Int, _ m: Int, nearest: Bool) -> [(Int, Int, Float)] {
        (0..<m).map { o in
            if nearest { let i = nearestIndex(o, n, m); return (i, i, 0) }
            let x = min(Double(n - 1), max(0, coordinate(o, n, m)))
            let i0 = Int(x), i1 = min(n - 1, i0 + 1)
            return (i0, i1, Float(x - Double(i0)))
        }
    }

    /// One axis of `data` (x fastest) from `size[axis]` to `m` voxels.
    static func resampleAxis(_ data: [Float], size: [Int], axis: Int, to m: Int, nearest: Bool) -> ([Float], [Int]) {
        let n = size[axis]
        var out = size
        out[axis] = m
        let stride = [1, size[0], size[0] * size[1]][axis]
        let outStride = [1, out[0], out[0] * out[1]][axis]
        var result = [Float](repeating: 0, count: out.reduce(1, *))
        let taps = self.taps(n, m, nearest: nearest)
        let outer = out.reduce(1, *) / m
        for line in 0..<outer {
            // The line's start in both grids: its coordinates on the other two axes.
            let inner = line % stride, outerIndex = line / stride
            let inStart = outerIndex * stride * n + inner, outStart = outerIndex * outStride * m + inner
            for (o, (i0, i1, w)) in taps.enumerated() {
                let a = data[inStart + i0 * stride], b = data[inStart + i1 * stride]
                result[outStart + o * outStride] = a + (b - a) * w
            }
        }
        return (result, out)
    }
}

/// What `segrun plan` reports and training follows: the spacings and sizes of a dataset of volumes, and the
/// target spacing chosen from them as nnU-Net chooses it (the median per axis; where the data is strongly
/// anisotropic, more than 3x between the coarsest and finest median, the 10th percentile for the coarse axis).
public struct VolumePlan: Equatable {
    public var spacings: [[Double]]
    public var sizes: [[Int]]
    public var target: [Double]
    public var axis: SliceAxis

    public init(spacings: [[Double]], sizes: [[Int]]) {
        self.spacings = spacings
        self.sizes = sizes
        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        var target = (0..<3).map { a in median(spacings.map { $0[a] }) }
        let coarse = target.indices.max { target[$0] < target[$1] }!
        if target[coarse] > 3 * (target.min() ?? 1) {
            let s = spacings.map { $0[coarse] }.sorted()
            target[coarse] = s[min(s.count - 1, Int(0.1 * Double(s.count - 1)))]
        }
        self.target = target
        axis = SliceAxis.coarsest(target)
    }

    /// Each case's size after resampling to the target.
    public var resampledSizes: [[Int]] { zip(sizes, spacings).map { VolumeResampling.size($0, spacing: $1, target: target) } }
}
