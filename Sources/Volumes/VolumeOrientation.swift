import ImageIO

/// The anatomical direction each voxel axis runs in, as three letters (nibabel's axis codes): the first
/// letter says where x increases (R or L), and so on; "RAS" is NIfTI's world order, "LPS" DICOM's. Read
/// from the affine: each voxel axis takes the world axis it runs most along (oblique scans round to the
/// nearest). A model records the orientation it was trained in; a volume in another one is reoriented to it
/// (axes permuted and flipped, no interpolation) and its labels are put back in the volume's own order.
public struct VolumeOrientation: Equatable, CustomStringConvertible {
    /// Per voxel axis: the world axis (0: left-right, 1: posterior-anterior, 2: inferior-superior).
    public let worldAxes: [Int]
    /// Per voxel axis: true when it runs toward R, A or S (the world axis's positive direction).
    public let positive: [Bool]

    static let letters: [(positive: Character, negative: Character)] = [("R", "L"), ("A", "P"), ("S", "I")]

    public init(affine: [[Double]]) {
        // Voxel axes in order of their strongest world component take the strongest free world axis.
        var taken = [false, false, false], worldAxes = [0, 1, 2], positive = [true, true, true]
        let order = (0..<3).sorted { j, k in
            (0..<3).map { abs(affine[$0][j]) }.max()! > (0..<3).map { abs(affine[$0][k]) }.max()!
        }
        for j in order {
            let i = (0..<3).filter { !taken[$0] }.max { abs(affine[$0][j]) < abs(affine[$1][j]) }!
            taken[i] = true
            worldAxes[j] = i
            positive[j] = affine[i][j] >= 0
        }
        self.worldAxes = worldAxes
        self.positive = positive
    }

    /// Parses three letters, one of R/L, A/P and S/I each (case-insensitive).
    public init?(_ codes: String) {
        let upper = Array(codes.asciiUppercased)
        guard upper.count == 3 else { return nil }
        var worldAxes: [Int] = [], positive: [Bool] = []
        for c in upper {
            guard let i = VolumeOrientation.letters.firstIndex(where: { $0.positive == c || $0.negative == c }), !worldAxes.contains(i) else { return nil }
            worldAxes.append(i)
            positive.append(VolumeOrientation.letters[i].positive == c)
        }
        self.worldAxes = worldAxes
        self.positive = positive
    }

    public var description: String {
        String(zip(worldAxes, positive).map { $1 ? VolumeOrientation.letters[$0].positive : VolumeOrientation.letters[$0].negative })
    }
}

/// Moving a volume between two orientations: output axis k is input axis `source[k]`, reversed where `flip[k]`.
public struct Reorientation: Equatable {
    public let source: [Int]
    public let flip: [Bool]

    /// From `from` to `to`.
    public init(from: VolumeOrientation, to: VolumeOrientation) {
        let source = (0..<3).map { k in from.worldAxes.firstIndex(of: to.worldAxes[k])! }
        self.source = source
        flip = (0..<3).map { k in from.positive[source[k]] != to.positive[k] }
    }

    public var isIdentity: Bool { source == [0, 1, 2] && flip == [false, false, false] }

    /// The size after reorienting a grid of `size`.
    public func size(_ size: [Int]) -> [Int] { source.map { size[$0] } }

    /// For each output voxel (x fastest), the index of its input voxel in a grid of `size`.
    func inputIndices(_ size: [Int]) -> [Int] {
        let out = self.size(size)
        let strides = [1, size[0], size[0] * size[1]]
        var indices = [Int](repeating: 0, count: out.reduce(1, *))
        var n = 0
        for z in 0..<out[2] { for y in 0..<out[1] { for x in 0..<out[0] {
            let p = [x, y, z]
            var index = 0
            for k in 0..<3 { index += (flip[k] ? out[k] - 1 - p[k] : p[k]) * strides[source[k]] }
            indices[n] = index
            n += 1
        } } }
        return indices
    }

    /// `values` (channels of a grid of `size`, each x fastest) reoriented.
    public func apply<T>(_ values: [T], size: [Int], channels: Int = 1) -> [T] {
        let indices = inputIndices(size), n = size.reduce(1, *)
        var out: [T] = []
        out.reserveCapacity(values.count)
        for c in 0..<channels { for i in indices { out.append(values[c * n + i]) } }
        return out
    }

    /// `volume` reoriented: voxels, spacing and an affine that keeps every voxel's world position.
    public func apply(_ volume: Volume) -> Volume {
        if isIdentity { return volume }
        let size = self.size(volume.size)
        var affine = volume.affine
        for k in 0..<3 {
            let j = source[k]
            for i in 0..<3 {
                affine[i][k] = flip[k] ? -volume.affine[i][j] : volume.affine[i][j]
            }
        }
        for k in 0..<3 where flip[k] {
            let j = source[k]
            for i in 0..<3 { affine[i][3] += volume.affine[i][j] * Double(volume.size[j] - 1) }
        }
        return Volume(size: size, channels: volume.channels, voxels: apply(volume.voxels, size: volume.size, channels: volume.channels),
                      spacing: source.map { volume.spacing[$0] }, affine: affine, units: volume.units, source: volume.source)
    }

    /// The way back.
    public var inverse: Reorientation {
        var source = [0, 0, 0], flip = [false, false, false]
        for k in 0..<3 { source[self.source[k]] = k; flip[self.source[k]] = self.flip[k] }
        return Reorientation(source: source, flip: flip)
    }

    init(source: [Int], flip: [Bool]) {
        self.source = source
        self.flip = flip
    }
}
