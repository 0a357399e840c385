import ImageIO

/// The axis a 2D model slices a volume along, and how a slice is laid out as an image: the first remaining
/// volume axis runs along the image's columns and the second up its rows (the rows are flipped), the
/// orientation in which `../shared/data` PNG slices were made (axial: x to the right, y up; anterior at the
/// top of an image of a RAS volume).
public enum SliceAxis: String, CaseIterable, Equatable {
    /// Sagittal slices of a RAS volume: y along the columns, z up the rows.
    case x
    /// Coronal: x along the columns, z up the rows.
    case y
    /// Axial: x along the columns, y up the rows.
    case z

    var index: Int {
        switch self {
        case .x: return 0
        case .y: return 1
        case .z: return 2
        }
    }

    /// (column axis, row axis) of a slice.
    var inPlane: (Int, Int) {
        switch self {
        case .x: return (1, 2)
        case .y: return (0, 2)
        case .z: return (0, 1)
        }
    }

    /// Slices along this axis of a volume of `size`.
    public func count(_ size: [Int]) -> Int { size[index] }

    /// Width and height of a slice of a volume of `size`.
    public func sliceSize(_ size: [Int]) -> (width: Int, height: Int) { (size[inPlane.0], size[inPlane.1]) }

    /// The volume index of pixel (row, column) of slice `s`.
    @inline(__always)
    func voxel(_ size: [Int], slice s: Int, row: Int, column: Int) -> Int {
        var p = [0, 0, 0]
        let (cAxis, rAxis) = inPlane
        p[index] = s
        p[cAxis] = column
        p[rAxis] = size[rAxis] - 1 - row
        return (p[2] * size[1] + p[1]) * size[0] + p[0]
    }

    /// The axis of coarsest spacing (the slicing axis of a 2D model by default), z on a tie.
    public static func coarsest(_ spacing: [Double]) -> SliceAxis {
        let s = spacing.count >= 3 ? spacing : [1, 1, 1]
        if s[2] >= s[0] && s[2] >= s[1] { return .z }
        return s[1] >= s[0] ? .y : .x
    }
}

extension Volume {
    /// Slice `s` along `axis` of channel `channel`, as row-major pixels (`axis.sliceSize`).
    public func slice(_ s: Int, along axis: SliceAxis, channel: Int = 0) -> [Float] {
        let (w, h) = axis.sliceSize(size)
        let base = channel * voxelCount
        var out = [Float](repeating: 0, count: w * h)
        for r in 0..<h { for c in 0..<w { out[r * w + c] = voxels[base + axis.voxel(size, slice: s, row: r, column: c)] } }
        return out
    }
}

/// Label volumes assembled slice by slice.
public struct LabelVolume {
    public let size: [Int]
    public var labels: [UInt8]

    public init(size: [Int]) {
        self.size = size
        labels = [UInt8](repeating: 0, count: size.reduce(1, *))
    }

    public init(size: [Int], labels: [UInt8]) {
        precondition(labels.count == size.reduce(1, *), "\(labels.count) labels for a \(size) grid")
        self.size = size
        self.labels = labels
    }

    /// Writes the row-major labels of slice `s` along `axis` into place.
    public mutating func place(_ slice: [UInt8], at s: Int, along axis: SliceAxis) {
        let (w, h) = axis.sliceSize(size)
        precondition(slice.count == w * h, "slice of \(slice.count) labels for \(w)x\(h)")
        for r in 0..<h { for c in 0..<w { labels[axis.voxel(size, slice: s, row: r, column: c)] = slice[r * w + c] } }
    }

    /// Slice `s` along `axis`, row-major.
    public func slice(_ s: Int, along axis: SliceAxis) -> [UInt8] {
        let (w, h) = axis.sliceSize(size)
        var out = [UInt8](repeating: 0, count: w * h)
        for r in 0..<h { for c in 0..<w { out[r * w + c] = labels[axis.voxel(size, slice: s, row: r, column: c)] } }
        return out
    }

    /// The slab of slices `range` along `axis`, as a label volume of its own.
    public func slab(_ range: Range<Int>, along axis: SliceAxis) -> LabelVolume {
        var size = self.size
        size[axis.index] = range.count
        var out = LabelVolume(size: size)
        for z in 0..<size[2] { for y in 0..<size[1] { for x in 0..<size[0] {
            var p = [x, y, z]
            p[axis.index] += range.lowerBound
            out.labels[(z * size[1] + y) * size[0] + x] = labels[(p[2] * self.size[1] + p[1]) * self.size[0] + p[0]]
        } } }
        return out
    }
}
