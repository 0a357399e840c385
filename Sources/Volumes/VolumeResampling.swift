import ImageIO

/// How image intensities are interpolated when a volume is resampled.
public enum ImageInterpolation: String, CaseIterable {
    /// Two taps per axis.
    case linear
    /// Four taps per axis: Keys' cubic convolution (a = -0.5, Catmull-Rom), which passes through the samples
    /// and keeps edges sharper than linear; it may overshoot them slightly.
    case cubic
}

/// How label maps are resampled.
public enum LabelInterpolation: String, CaseIterable {
    /// The nearest voxel's label.
    case nearest
    /// Each label's indicator (one-hot) interpolated linearly, then the label of largest weight (the first on
    /// a tie): smoother boundaries than nearest when upsampling, and thin structures survive better.
    case linear
}

/// Resampling volumes to a voxel spacing, as nnU-Net does for its 2D and 3D models: images linear or cubic
/// (separable, one axis at a time), labels nearest or linear on one-hot, and an axis much coarser than the
/// others (more than 3x the finest target spacing) nearest for both, so slices are never blended across a
/// thick gap. Voxel centres stay aligned: output voxel o samples input coordinate `(o + 0.5) n / m - 0.5` along
/// an axis of n input and m output voxels.
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
    public static func nearestAxes(_ target: [Double]) -> [Bool] {
        let finest = target.min() ?? 1
        return target.map { $0 > 3 * finest }
    }

    /// `volume` at `target` spacing (every channel); the affine follows the new grid.
    public static func resample(_ volume: Volume, to target: [Double], interpolation: ImageInterpolation = .linear) -> Volume {
        let out = size(volume.size, spacing: volume.spacing, target: target)
        if out == volume.size { return volume }
        let nearest = nearestAxes(target)
        var voxels: [Float] = []
        voxels.reserveCapacity(out.reduce(1, *) * volume.channels)
        let n = volume.voxelCount
        for c in 0..<volume.channels {
            var data = Array(volume.voxels[(c * n)..<((c + 1) * n)]), current = volume.size
            for axis in 0..<3 where out[axis] != current[axis] {
                (data, current) = resampleAxis(data, size: current, axis: axis, to: out[axis], nearest: nearest[axis], interpolation: interpolation)
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

    /// Labels of a grid of `from` voxels resampled to `to` voxels. Linear interpolation blends along the axes
    /// that are not `nearestAxes` (a coarse axis: see `nearestAxes(_:)`).
    public static func resampleLabels(_ labels: [UInt8], from: [Int], to: [Int], interpolation: LabelInterpolation = .nearest,
                                      nearestAxes: [Bool] = [false, false, false]) -> [UInt8] {
        if from == to { return labels }
        if interpolation == .linear { return linearLabels(labels, from: from, to: to, nearestAxes: nearestAxes) }
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

    /// Labels resampled linearly on one-hot: each output voxel takes the label with the largest summed weight
    /// among its (up to 8) input neighbours.
    static func linearLabels(_ labels: [UInt8], from: [Int], to: [Int], nearestAxes: [Bool]) -> [UInt8] {
        let zTaps = taps(from[2], to[2], nearest: nearestAxes[2])
        let inPlane = LabelPlaneResampler(from: [from[0], from[1]], to: [to[0], to[1]], nearestAxes: nearestAxes)
        let n = from[0] * from[1]
        var out: [UInt8] = []
        out.reserveCapacity(to.reduce(1, *))
        for (z0, z1, wz) in zTaps {
            out += inPlane.resample(labels[(z0 * n)..<((z0 + 1) * n)], labels[(z1 * n)..<((z1 + 1) * n)], weight: wz)
        }
        return out
    }

    /// Keys' cubic convolution weights (a = -0.5) of the four samples around fraction `t` in [0, 1).
    @inline(__always)
    static func cubicWeights(_ t: Float) -> (Float, Float, Float, Float) {
        let a: Float = -0.5
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return (far(1 + t), near(t), near(1 - t), far(2 - t))
    }

    /// One axis of `data` (x fastest) from `size[axis]` to `m` voxels.
    static func resampleAxis(_ data: [Float], size: [Int], axis: Int, to m: Int, nearest: Bool,
                             interpolation: ImageInterpolation = .linear) -> ([Float], [Int]) {
        if interpolation == .cubic && !nearest { return cubicAxis(data, size: size, axis: axis, to: m) }
        let lines = AxisLines(size: size, axis: axis, to: m)
        var result = [Float](repeating: 0, count: lines.out.reduce(1, *))
        let taps = self.taps(size[axis], m, nearest: nearest)
        for line in 0..<lines.count {
            let (inStart, outStart) = lines.starts(line)
            for (o, (i0, i1, w)) in taps.enumerated() {
                let a = data[inStart + i0 * lines.stride], b = data[inStart + i1 * lines.stride]
                result[outStart + o * lines.outStride] = a + (b - a) * w
            }
        }
        return (result, lines.out)
    }
}

extension VolumeResampling {
    /// Per output position along an axis of `n` input and `m` output voxels: four input neighbours (clamped to
    /// the axis) and their cubic weights.
    static func cubicTaps(_ n: Int, _ m: Int) -> [((Int, Int, Int, Int), (Float, Float, Float, Float))] {
        (0..<m).map { o in
            let x = min(Double(n - 1), max(0, coordinate(o, n, m)))
            let i = Int(x)
            let t = Float(x - Double(i))
            func at(_ k: Int) -> Int { min(n - 1, max(0, k)) }
            return ((at(i - 1), i, at(i + 1), at(i + 2)), cubicWeights(t))
        }
    }

    /// One axis of `data` by cubic convolution.
    static func cubicAxis(_ data: [Float], size: [Int], axis: Int, to m: Int) -> ([Float], [Int]) {
        let lines = AxisLines(size: size, axis: axis, to: m)
        let stride = lines.stride, outStride = lines.outStride
        var result = [Float](repeating: 0, count: lines.out.reduce(1, *))
        let taps = cubicTaps(size[axis], m)
        for line in 0..<lines.count {
            let (inStart, outStart) = lines.starts(line)
            for (o, (i, w)) in taps.enumerated() {
                var v = data[inStart + i.0 * stride] * w.0
                v = v + data[inStart + i.1 * stride] * w.1
                v = v + data[inStart + i.2 * stride] * w.2
                v = v + data[inStart + i.3 * stride] * w.3
                result[outStart + o * outStride] = v
            }
        }
        return (result, lines.out)
    }
}

extension VolumeResampling {
    /// Plane `a` moved `w` of the way to plane `b`, element by element: `resampleAxis`'s linear tap, for
    /// resampling along z one plane at a time.
    static func blend(_ a: [Float], _ b: [Float], weight w: Float) -> [Float] {
        var out = a
        for j in 0..<out.count { out[j] = a[j] + (b[j] - a[j]) * w }
        return out
    }

    /// Four planes weighted as `cubicAxis` weights them, in its order of operations.
    static func cubicBlend(_ p: ([Float], [Float], [Float], [Float]), _ w: (Float, Float, Float, Float)) -> [Float] {
        var out = p.0
        for j in 0..<out.count {
            var v = p.0[j] * w.0
            v = v + p.1[j] * w.1
            v = v + p.2[j] * w.2
            v = v + p.3[j] * w.3
            out[j] = v
        }
        return out
    }
}

/// The lines of a grid (x fastest) along one axis resampled from `size[axis]` to `m` voxels: how many, their
/// strides in both grids, and where each starts (its coordinates on the other two axes).
struct AxisLines {
    let out: [Int]
    let stride: Int
    let outStride: Int
    let count: Int
    private let n: Int
    private let m: Int

    init(size: [Int], axis: Int, to m: Int) {
        var out = size
        out[axis] = m
        self.out = out
        n = size[axis]
        self.m = m
        stride = [1, size[0], size[0] * size[1]][axis]
        outStride = [1, out[0], out[0] * out[1]][axis]
        count = out.reduce(1, *) / m
    }

    @inline(__always)
    func starts(_ line: Int) -> (input: Int, output: Int) {
        let inner = line % stride, outer = line / stride
        return (outer * stride * n + inner, outer * outStride * m + inner)
    }
}

/// Linear-on-one-hot label resampling of one output slice from the two input slices around it (x fastest):
/// each output voxel takes the label of largest summed weight among its up to 8 neighbours, the smallest
/// label on a tie.
struct LabelPlaneResampler {
    let from: [Int]
    let to: [Int]
    let xTaps: [(Int, Int, Float)]
    let yTaps: [(Int, Int, Float)]

    init(from: [Int], to: [Int], nearestAxes: [Bool]) {
        self.from = from
        self.to = to
        xTaps = VolumeResampling.taps(from[0], to[0], nearest: nearestAxes[0])
        yTaps = VolumeResampling.taps(from[1], to[1], nearest: nearestAxes[1])
    }

    /// The output slice between input slices `a` and `b`, `weight` of the way to `b`.
    func resample(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>, weight wz: Float) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: to[0] * to[1])
        var weight = [Float](repeating: 0, count: 256)
        var touched: [UInt8] = []
        touched.reserveCapacity(8)
        let planes = [(a, 1 - wz), (b, wz)]
        for y in 0..<to[1] {
            let (y0, y1, wy) = yTaps[y]
            for x in 0..<to[0] {
                let (x0, x1, wx) = xTaps[x]
                touched.removeAll(keepingCapacity: true)
                for (plane, fz) in planes where fz > 0 {
                    let base = plane.startIndex
                    for (yi, fy) in [(y0, 1 - wy), (y1, wy)] where fy > 0 {
                        for (xi, fx) in [(x0, 1 - wx), (x1, wx)] where fx > 0 {
                            let l = plane[base + yi * from[0] + xi]
                            if weight[Int(l)] == 0 { touched.append(l) }
                            weight[Int(l)] += fz * fy * fx
                        }
                    }
                }
                var best = touched[0]
                for l in touched where weight[Int(l)] > weight[Int(best)] || (weight[Int(l)] == weight[Int(best)] && l < best) { best = l }
                for l in touched { weight[Int(l)] = 0 }
                out[y * to[0] + x] = best
            }
        }
        return out
    }
}
