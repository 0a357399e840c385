import Foundation
import Engine

/// Seeded 3D augmentation of a patch, nnU-Net's recipe at its default probabilities: rotation and scaling
/// (one resampling: image trilinear, labels nearest), mirroring on every axis, then per channel brightness,
/// contrast, gamma, Gaussian noise and Gaussian blur. Elastic deformation is there too, off by default (as in
/// nnU-Net); `--augment elastic` turns it on.
public struct PatchAugmentation: Equatable {
    /// Rotation within +-this many degrees (probability `spatialProbability`): about z only when the data is
    /// anisotropic (`inPlaneOnly`), else about each axis.
    public var rotationDegrees: Double = 15
    public var inPlaneOnly = false
    /// Scale within this range (probability `spatialProbability`).
    public var scale: ClosedRange<Double> = 0.85...1.25
    public var spatialProbability = 0.2
    /// Mirror each axis with probability 0.5.
    public var mirror = true
    /// Multiply by a factor within 0.75...1.25 (probability 0.15).
    public var brightness = 0.15
    /// Scale around the mean by 0.75...1.25, clipped to the patch's range before (probability 0.15).
    public var contrast = 0.15
    /// Gamma within 0.7...1.5 on the range-normalized patch (probability 0.3).
    public var gamma = 0.3
    /// Gaussian noise of variance up to 0.1 (probability 0.1).
    public var noise = 0.1
    /// Gaussian blur with sigma 0.5...1 voxel (probability 0.2).
    public var blur = 0.2
    /// Elastic deformation (probability `elasticProbability`, in the same resampling as rotation and scaling):
    /// every voxel displaced by a smooth random field of up to this fraction of the patch's extent on each axis
    /// (value noise on a 4 x 4 x 4 grid of cells, trilinearly interpolated; none along z for in-plane-only
    /// data). 0 turns it off (the default); `--augment elastic` sets 1/16.
    public var elasticFraction = 0.0
    public var elasticProbability = 0.2

    public init() {}

    public static let none: PatchAugmentation = {
        var a = PatchAugmentation()
        a.spatialProbability = 0; a.mirror = false; a.brightness = 0; a.contrast = 0; a.gamma = 0; a.noise = 0; a.blur = 0
        return a
    }()
}

/// Draws training patches from a `VolumePatchData`'s training blocks, normalized by the model's mean and std. A draw depends only on (seed, epoch,
/// index), so runs repeat and a resumed run draws what the uninterrupted one would have. Every third patch
/// (index 2, 5, 8, ...) is centred on a random foreground voxel, as nnU-Net oversamples foreground; the rest
/// lie anywhere in a block, chosen in proportion to the blocks' voxels. A patch never reads outside its
/// block: where it sticks out (a block thinner than the patch, a rotated corner), the image is the channel's
/// mean (0 once normalized) and the label background.
public struct PatchSampler {
    public let data: VolumePatchData
    /// D, H, W (z, y, x).
    public let patch: [Int]
    public var augmentation: PatchAugmentation
    public let seed: UInt64
    let foreground: [[SIMD3<Int32>]]
    let mean: [Float], std: [Float]

    public init(_ data: VolumePatchData, patch: [Int], augmentation: PatchAugmentation, seed: UInt64, mean: [Float], std: [Float]) {
        self.data = data
        self.patch = patch
        self.augmentation = augmentation
        self.seed = seed
        self.mean = mean
        self.std = std
        foreground = data.training.map { data.foreground($0) }
    }

    struct Random {
        var generator: SeededGenerator
        /// Uniform in [0, 1).
        mutating func unit() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
        mutating func uniform(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * unit() }
        mutating func below(_ n: Int) -> Int { Int(generator.next() % UInt64(max(1, n))) }
        mutating func chance(_ p: Double) -> Bool { unit() < p }
        /// Standard normal (Box-Muller).
        mutating func normal() -> Double {
            let u = max(unit(), 1e-300), v = unit()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
    }

    /// Patch `index` of `epoch`: the normalized, augmented image (C x D x H x W) and labels (D x H x W).
    public func sample(epoch: Int, index: Int) -> (image: [Float], labels: [UInt8]) {
        var rng = Random(generator: SeededGenerator(seed: seed &* 0x9E37_79B9 &+ UInt64(epoch) &* 0x1_0000_0001 &+ UInt64(index) &+ 0x5A7C))
        let blocks = data.training
        let wantsForeground = index % 3 == 2 && foreground.contains { !$0.isEmpty }
        // The block.
        var b = 0
        if wantsForeground {
            let total = foreground.reduce(0) { $0 + $1.count }
            var pick = rng.below(total)
            while pick >= foreground[b].count { pick -= foreground[b].count; b += 1 }
        } else {
            let sizes = blocks.map { data.cases[$0.caseIndex].size[0] * data.cases[$0.caseIndex].size[1] * $0.z.count }
            var pick = rng.below(sizes.reduce(0, +))
            while pick >= sizes[b] { pick -= sizes[b]; b += 1 }
        }
        let block = blocks[b], c = data.cases[block.caseIndex]
        let lower = [0, 0, block.z.lowerBound], upper = [c.size[0], c.size[1], block.z.upperBound]
        let extent = [patch[2], patch[1], patch[0]]  // x, y, z
        // The patch's centre (x, y, z) in the case's voxels.
        var centre = [Double](repeating: 0, count: 3)
        let voxel: SIMD3<Int32>? = wantsForeground ? foreground[b][rng.below(foreground[b].count)] : nil
        for a in 0..<3 {
            let room = upper[a] - lower[a] - extent[a]
            var corner: Int
            if let voxel {
                corner = Int(voxel[a]) - extent[a] / 2
                corner = room >= 0 ? min(max(corner, lower[a]), upper[a] - extent[a]) : lower[a] + room / 2
            } else {
                corner = room >= 0 ? lower[a] + rng.below(room + 1) : lower[a] + room / 2
            }
            centre[a] = Double(corner) + Double(extent[a] - 1) / 2
        }
        // Spatial augmentation: the map from patch offsets to case offsets.
        var map: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        var resample = false
        if rng.chance(augmentation.spatialProbability) && augmentation.rotationDegrees > 0 {
            let axes = augmentation.inPlaneOnly ? [2] : [0, 1, 2]
            for axis in axes {
                let angle = rng.uniform(-augmentation.rotationDegrees...augmentation.rotationDegrees) * Double.pi / 180
                map = PatchSampler.multiply(map, PatchSampler.rotation(about: axis, angle))
            }
            resample = true
        }
        if rng.chance(augmentation.spatialProbability) && augmentation.scale != 1...1 {
            // Zooming in (scale > 1) reads a smaller region: the map divides by the scale.
            let s = 1 / rng.uniform(augmentation.scale)
            map = map.map { $0.map { $0 * s } }
            resample = true
        }
        // Drawn only when elastic deformation is on, so runs without it draw exactly what they did before it.
        var displacement: ElasticField?
        if augmentation.elasticFraction > 0 && rng.chance(augmentation.elasticProbability) {
            let maxima = extent.enumerated().map { a, e in a == 2 && augmentation.inPlaneOnly ? 0 : augmentation.elasticFraction * Double(e) }
            displacement = ElasticField(extent: extent, maxima: maxima, rng: &rng)
            resample = true
        }
        var mirrored = [false, false, false]
        if augmentation.mirror { for a in 0..<3 { mirrored[a] = rng.chance(0.5) } }
        var (image, labels) = extract(c, lower: lower, upper: upper, centre: centre, extent: extent, map: resample ? map : nil,
                                      displacement: displacement, mirrored: mirrored)
        // Normalized like the model's input, then the intensity augmentation on that scale (unit variance, as
        // nnU-Net's noise variances and ranges assume).
        let n = extent.reduce(1, *)
        for ch in 0..<c.channels {
            let m = ch < mean.count ? mean[ch] : 0, s = ch < std.count ? std[ch] : 1
            for v in (ch * n)..<((ch + 1) * n) { image[v] = (image[v] - m) / s }
        }
        augmentIntensities(&image, channels: c.channels, &rng)
        return (image, labels)
    }

    /// The patch around `centre`: a plain copy when `map` is nil, else trilinear (labels nearest) through it,
    /// each patch offset first moved by `displacement` when given.
    func extract(_ c: VolumePatchData.Case, lower: [Int], upper: [Int], centre: [Double], extent: [Int], map: [[Double]]?,
                 displacement: ElasticField? = nil, mirrored: [Bool]) -> ([Float], [UInt8]) {
        let (ex, ey, ez) = (extent[0], extent[1], extent[2]), n = ex * ey * ez, plane = c.size[0] * c.size[1], volume = plane * c.size[2]
        // Outside the block: each channel's mean (0 once normalized) and background.
        var image = [Float](repeating: 0, count: c.channels * n), labels = [UInt8](repeating: 0, count: n)
        let fill = (0..<c.channels).map { $0 < mean.count ? mean[$0] : 0 }
        for ch in 0..<c.channels { for v in (ch * n)..<((ch + 1) * n) { image[v] = fill[ch] } }
        func inside(_ x: Int, _ y: Int, _ z: Int) -> Bool {
            x >= lower[0] && x < upper[0] && y >= lower[1] && y < upper[1] && z >= lower[2] && z < upper[2]
        }
        let half = SIMD3(Double(ex - 1) / 2, Double(ey - 1) / 2, Double(ez - 1) / 2), mid = SIMD3(centre[0], centre[1], centre[2])
        let rows = map.map { m in (SIMD3(m[0][0], m[1][0], m[2][0]), SIMD3(m[0][1], m[1][1], m[2][1]), SIMD3(m[0][2], m[1][2], m[2][2])) }
        for z in 0..<ez { for y in 0..<ey { for x in 0..<ex {
            let o = SIMD3(Double(x), Double(y), Double(z)) - half
            let tx = mirrored[0] ? ex - 1 - x : x, ty = mirrored[1] ? ey - 1 - y : y, tz = mirrored[2] ? ez - 1 - z : z
            let target = (tz * ey + ty) * ex + tx
            guard let rows else {
                let q = (mid + o).rounded(.toNearestOrAwayFromZero)
                let sx = Int(q.x), sy = Int(q.y), sz = Int(q.z)
                guard inside(sx, sy, sz) else { continue }
                let v = (sz * c.size[1] + sy) * c.size[0] + sx
                labels[target] = c.labels[v]
                for ch in 0..<c.channels { image[ch * n + target] = c.image[ch * volume + v] }
                continue
            }
            // The columns of the map times the (displaced) offset.
            let d = displacement.map { o + $0.at(x, y, z) } ?? o
            let p = mid + rows.0 * d.x + rows.1 * d.y + rows.2 * d.z
            let q = p.rounded(.toNearestOrAwayFromZero)
            let nx = Int(q.x), ny = Int(q.y), nz = Int(q.z)
            if inside(nx, ny, nz) { labels[target] = c.labels[(nz * c.size[1] + ny) * c.size[0] + nx] }
            let f = p.rounded(.down), x0 = Int(f.x), y0 = Int(f.y), z0 = Int(f.z), frac = p - f
            for ch in 0..<c.channels {
                var value = 0.0
                for dz in 0...1 { for dy in 0...1 { for dx in 0...1 {
                    let w = (dx == 0 ? 1 - frac.x : frac.x) * (dy == 0 ? 1 - frac.y : frac.y) * (dz == 0 ? 1 - frac.z : frac.z)
                    let tap = inside(x0 + dx, y0 + dy, z0 + dz) ? c.image[ch * volume + ((z0 + dz) * c.size[1] + y0 + dy) * c.size[0] + x0 + dx] : fill[ch]
                    value += w * Double(tap)
                } } }
                image[ch * n + target] = Float(value)
            }
        } } }
        return (image, labels)
    }

    /// Brightness, contrast, gamma, noise and blur, each channel on its own draws.
    func augmentIntensities(_ image: inout [Float], channels: Int, _ rng: inout Random) {
        let n = image.count / channels, a = augmentation, (ex, ey, ez) = (patch[2], patch[1], patch[0])
        for ch in 0..<channels {
            let range = (ch * n)..<((ch + 1) * n)
            if rng.chance(a.brightness) {
                let f = Float(rng.uniform(0.75...1.25))
                for v in range { image[v] *= f }
            }
            if rng.chance(a.contrast) {
                let f = Float(rng.uniform(0.75...1.25))
                var sum = 0.0, low = Float.infinity, high = -Float.infinity
                for v in range { sum += Double(image[v]); low = min(low, image[v]); high = max(high, image[v]) }
                let m = Float(sum / Double(n))
                for v in range { image[v] = min(high, max(low, (image[v] - m) * f + m)) }
            }
            if rng.chance(a.gamma) {
                let g = Float(rng.uniform(0.7...1.5))
                var low = Float.infinity, high = -Float.infinity
                for v in range { low = min(low, image[v]); high = max(high, image[v]) }
                let span = max(high - low, 1e-7)
                for v in range { image[v] = pow((image[v] - low) / span, g) * span + low }
            }
            if rng.chance(a.noise) {
                let sigma = Float(rng.uniform(0...0.1).squareRoot())
                for v in range { image[v] += sigma * Float(rng.normal()) }
            }
            if rng.chance(a.blur) {
                let sigma = rng.uniform(0.5...1)
                let kernel = (-2...2).map { Float(exp(-0.5 * Double($0 * $0) / (sigma * sigma))) }
                let total = kernel.reduce(0, +), k = kernel.map { $0 / total }
                for (stride, count) in [(1, ex), (ex, ey), (ex * ey, ez)] {
                    var out = image
                    for v in 0..<n {
                        let i = v / stride % count
                        var s: Float = 0, w: Float = 0
                        for t in -2...2 where i + t >= 0 && i + t < count { s += k[t + 2] * image[ch * n + v + t * stride]; w += k[t + 2] }
                        out[ch * n + v] = s / w
                    }
                    image = out
                }
            }
        }
    }

    static func rotation(about axis: Int, _ angle: Double) -> [[Double]] {
        let c = cos(angle), s = sin(angle)
        switch axis {
        case 0: return [[1, 0, 0], [0, c, -s], [0, s, c]]
        case 1: return [[c, 0, s], [0, 1, 0], [-s, 0, c]]
        default: return [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        }
    }

    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0.0) { $0 + a[i][$1] * b[$1][j] } } }
    }
}

/// A smooth random displacement over a patch (x, y, z offsets in voxels): value noise, uniform in +-`maxima`
/// per axis, on the corners of a 4 x 4 x 4 grid of cells spanning the patch, trilinearly interpolated.
struct ElasticField {
    static let cells = 4
    let extent: [Int]
    /// (cells + 1)^3 displacements, x fastest.
    let nodes: [SIMD3<Double>]

    init(extent: [Int], maxima: [Double], rng: inout PatchSampler.Random) {
        self.extent = extent
        let n = ElasticField.cells + 1
        nodes = (0..<(n * n * n)).map { _ in
            SIMD3(rng.uniform(-1...1) * maxima[0], rng.uniform(-1...1) * maxima[1], rng.uniform(-1...1) * maxima[2])
        }
    }

    /// The displacement of patch voxel (x, y, z).
    func at(_ x: Int, _ y: Int, _ z: Int) -> SIMD3<Double> {
        let cells = ElasticField.cells, n = cells + 1
        var index = [0, 0, 0], fraction = [0.0, 0.0, 0.0]
        for (a, v) in [x, y, z].enumerated() {
            let g = Double(v) / Double(max(1, extent[a] - 1)) * Double(cells)
            index[a] = min(cells - 1, Int(g))
            fraction[a] = g - Double(index[a])
        }
        var d = SIMD3<Double>()
        for dz in 0...1 { for dy in 0...1 { for dx in 0...1 {
            let wx: Double = dx == 0 ? 1 - fraction[0] : fraction[0]
            let wy: Double = dy == 0 ? 1 - fraction[1] : fraction[1]
            let wz: Double = dz == 0 ? 1 - fraction[2] : fraction[2]
            let node = ((index[2] + dz) * n + index[1] + dy) * n + index[0] + dx
            d += (wx * wy * wz) * nodes[node]
        } } }
        return d
    }
}
