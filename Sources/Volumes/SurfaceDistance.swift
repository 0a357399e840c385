/// Distances between the surfaces of two label sets on a voxel grid, in the grid's physical units (voxel
/// spacing per axis): the exact Euclidean distance transform (Felzenszwalb and Huttenlocher's lower envelope of
/// parabolas, one axis at a time), then HD95, average surface distance and normalized surface Dice from it.
public enum SurfaceDistance {
    /// Voxels of `mask` with a face neighbour outside it (or on the grid's border).
    public static func surface(_ mask: [Bool], size: [Int]) -> [Bool] {
        let (nx, ny, nz) = (size[0], size[1], size[2])
        var out = [Bool](repeating: false, count: mask.count)
        for z in 0..<nz {
            for y in 0..<ny {
                for x in 0..<nx {
                    let i = (z * ny + y) * nx + x
                    guard mask[i] else { continue }
                    // A flat axis (size 1) has no neighbours along it: it does not make every voxel a border.
                    let border = (nx > 1 && (x == 0 || x == nx - 1)) || (ny > 1 && (y == 0 || y == ny - 1)) || (nz > 1 && (z == 0 || z == nz - 1))
                    out[i] = border
                        || (nx > 1 && (!mask[i - 1] || !mask[i + 1]))
                        || (ny > 1 && (!mask[i - nx] || !mask[i + nx]))
                        || (nz > 1 && (!mask[i - nx * ny] || !mask[i + nx * ny]))
                }
            }
        }
        return out
    }

    /// Squared distance from every voxel to the nearest voxel of `target`, in physical units squared
    /// (infinity everywhere when `target` is empty).
    public static func squaredDistanceTransform(_ target: [Bool], size: [Int], spacing: [Double]) -> [Double] {
        var d = target.map { $0 ? 0.0 : Double.infinity }
        let strides = [1, size[0], size[0] * size[1]]
        for axis in 0..<3 where size[axis] > 1 {
            let n = size[axis], stride = strides[axis], s = spacing[axis]
            var line = [Double](repeating: 0, count: n), result = line
            var v = [Int](repeating: 0, count: n), z = [Double](repeating: 0, count: n + 1)
            // Every line along `axis`: start indices are all voxels whose coordinate along `axis` is 0.
            for start in 0..<d.count where (start / stride) % n == 0 {
                for i in 0..<n { line[i] = d[start + i * stride] }
                transform1D(line, spacing: s, v: &v, z: &z, into: &result)
                for i in 0..<n { d[start + i * stride] = result[i] }
            }
        }
        return d
    }

    /// One line: `out[p] = min_q (s (p - q))^2 + f[q]`.
    static func transform1D(_ f: [Double], spacing s: Double, v: inout [Int], z: inout [Double], into out: inout [Double]) {
        let n = f.count
        var k = -1
        for q in 0..<n where f[q].isFinite {
            let pq = Double(q) * s
            while k >= 0 {
                let pv = Double(v[k]) * s
                let intersection = ((f[q] + pq * pq) - (f[v[k]] + pv * pv)) / (2 * (pq - pv))
                if intersection <= z[k] { k -= 1 } else {
                    k += 1
                    v[k] = q
                    z[k] = intersection
                    z[k + 1] = .infinity
                    break
                }
            }
            if k < 0 {
                k = 0
                v[0] = q
                z[0] = -.infinity
                z[1] = .infinity
            }
        }
        if k < 0 {
            for p in 0..<n { out[p] = .infinity }
            return
        }
        var j = 0
        for p in 0..<n {
            let x = Double(p) * s
            while z[j + 1] < x { j += 1 }
            let dx = x - Double(v[j]) * s
            out[p] = dx * dx + f[v[j]]
        }
    }

    /// Surface distances between two masks: each surface voxel's distance to the other surface.
    public struct Result: Equatable {
        /// Distances from the predicted surface to the true one, and back.
        public var predictedToTruth: [Double]
        public var truthToPredicted: [Double]

        /// The larger of the two directed 95th percentiles (as MONAI computes HD95); nil when a surface is empty.
        public var hd95: Double? {
            guard !predictedToTruth.isEmpty, !truthToPredicted.isEmpty else { return nil }
            return max(SurfaceDistance.percentile95(predictedToTruth), SurfaceDistance.percentile95(truthToPredicted))
        }

        /// The mean over both surfaces' distances (average symmetric surface distance); nil when a surface is empty.
        public var averageSurfaceDistance: Double? {
            guard !predictedToTruth.isEmpty, !truthToPredicted.isEmpty else { return nil }
            return (predictedToTruth.reduce(0, +) + truthToPredicted.reduce(0, +)) / Double(predictedToTruth.count + truthToPredicted.count)
        }

        /// The share of both surfaces within `tolerance` of the other (normalized surface Dice): 1 when both are
        /// empty, 0 when one is.
        public func normalizedSurfaceDice(tolerance: Double) -> Double {
            let total = predictedToTruth.count + truthToPredicted.count
            if total == 0 { return 1 }
            if predictedToTruth.isEmpty || truthToPredicted.isEmpty { return 0 }
            let within = predictedToTruth.filter { $0 <= tolerance }.count + truthToPredicted.filter { $0 <= tolerance }.count
            return Double(within) / Double(total)
        }
    }

    static func percentile95(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let k = min(sorted.count - 1, Int((0.95 * Double(sorted.count - 1)).rounded(.up)))
        return sorted[k]
    }

    /// Surface distances between `predicted` and `truth` on a grid of `size` and `spacing`. When one surface is
    /// empty, the other's voxels get infinite distances (outside any NSD tolerance) and HD95 and ASD are nil.
    public static func between(_ predicted: [Bool], _ truth: [Bool], size: [Int], spacing: [Double]) -> Result {
        let ps = surface(predicted, size: size), ts = surface(truth, size: size)
        let pCount = ps.reduce(0) { $0 + ($1 ? 1 : 0) }, tCount = ts.reduce(0) { $0 + ($1 ? 1 : 0) }
        if pCount == 0 || tCount == 0 {
            return Result(predictedToTruth: [Double](repeating: .infinity, count: pCount), truthToPredicted: [Double](repeating: .infinity, count: tCount))
        }
        let toTruth = squaredDistanceTransform(ts, size: size, spacing: spacing)
        let toPredicted = squaredDistanceTransform(ps, size: size, spacing: spacing)
        var a: [Double] = [], b: [Double] = []
        a.reserveCapacity(pCount)
        b.reserveCapacity(tCount)
        for i in 0..<ps.count where ps[i] { a.append(toTruth[i].squareRoot()) }
        for i in 0..<ts.count where ts[i] { b.append(toPredicted[i].squareRoot()) }
        return Result(predictedToTruth: a, truthToPredicted: b)
    }
}
