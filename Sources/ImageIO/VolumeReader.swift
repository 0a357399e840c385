/// How a volume file stores its voxels, as its header says: where the data starts, whether it is gzipped,
/// the voxel type, byte order and scaling, and whether channels are interleaved. Both readers describe their
/// files this way; reading whole and reading slice by slice then share one decoder.
struct VoxelLayout {
    var data: VolumeData
    /// The file named in errors.
    var path: String
    /// Bytes of the file before the data (a NRRD's attached header), skipped before any decompression.
    var fileOffset = 0
    /// nil: gzip detected by its magic.
    var compressed: Bool?
    /// Bytes of the (decompressed) data before the first voxel (NIfTI's `vox_offset`).
    var dataOffset = 0
    var type: VoxelType
    var swap: Bool
    /// value * slope + intercept, when the file scales its values.
    var scale: (slope: Float, intercept: Float)?
    var size: [Int]
    var channels: Int
    /// Channel fastest (a NRRD of vectors), instead of one whole volume per channel.
    var interleaved = false
    /// Names the voxels a truncated file was short of, e.g. "the header's 64x64x30 int16 voxels need 245760 bytes after offset 352".
    var need: String

    var sliceValues: Int { size[0] * size[1] }

    /// A stream at the first voxel of channel `channel` (of channel 0 for interleaved data).
    func open(channel: Int = 0) throws(VolumeError) -> VolumeStream {
        let stream = try VolumeStream(data, offset: fileOffset, compressed: compressed, path: path)
        try stream.skip(dataOffset + (interleaved ? 0 : channel * size.reduce(1, *) * type.bytes))
        return stream
    }

    /// Decodes the next `count` values of `stream` into `out[start...]`, scaled. NaN and infinite values (float
    /// volumes from pipelines that write NaN outside a mask) become 0, as numpy's `nan_to_num` makes NaN: one NaN
    /// would otherwise spread through a volume's intensity normalization and every window that reads it.
    func decode(_ stream: VolumeStream, count: Int, into out: inout [Float], at start: Int) throws(VolumeError) {
        let raw: [UInt8]
        do { raw = try stream.read(count * type.bytes) } catch .corrupt(_, let reason) {
            throw .corrupt(path: path, reason: "\(need): \(reason)")
        }
        raw.withUnsafeBytes { type.decode($0, offset: 0, count: count, swap: swap, into: &out, at: start) }
        if let (s, b) = scale { for i in start..<(start + count) { out[i] = out[i] * s + b } }
        if type == .float32 || type == .float64 || scale != nil {
            for i in start..<(start + count) where !out[i].isFinite { out[i] = 0 }
        }
    }

    /// Every voxel, channel-major, read a slice at a time.
    func readAll() throws(VolumeError) -> [Float] {
        let count = size.reduce(1, *) * channels
        var voxels = [Float](repeating: 0, count: count)
        let stream = try open()
        let step = max(1, sliceValues * (interleaved ? channels : 1))
        var done = 0
        while done < count {
            let n = min(step, count - done)
            try decode(stream, count: n, into: &voxels, at: done)
            done += n
        }
        if interleaved && channels > 1 {
            let fileOrder = voxels, n = count / channels
            for v in 0..<n { for c in 0..<channels { voxels[c * n + v] = fileOrder[v * channels + c] } }
        }
        return voxels
    }
}

/// A volume read one z slice at a time (the file's own order), so memory holds a slice and a chunk of the
/// file whatever the volume's size. `VolumeFile.open` makes one.
public final class VolumeReader {
    /// The header's grid.
    public let grid: VolumeGrid
    private let layout: VoxelLayout
    /// One stream per channel (one in all for interleaved channels), each at the next slice.
    private var streams: [VolumeStream] = []
    /// The next slice to read.
    public private(set) var next = 0

    init(_ opened: (VolumeGrid, VoxelLayout)) throws(VolumeError) {
        (grid, layout) = opened
        try rewind()
    }

    /// Back to slice 0 (the file is opened again; a gzip stream is decompressed again from its start).
    public func rewind() throws(VolumeError) {
        streams = []
        for c in 0..<(layout.interleaved ? 1 : layout.channels) { streams.append(try layout.open(channel: c)) }
        next = 0
    }

    /// The whole volume (read from its first slice; the reader is rewound after).
    public func readVolume() throws(VolumeError) -> Volume {
        try rewind()
        let n = layout.sliceValues, count = layout.size.reduce(1, *)
        var voxels = [Float](repeating: 0, count: count * layout.channels)
        var z = 0
        while let slice = try nextSlice() {
            for c in 0..<layout.channels { voxels.replaceSubrange((c * count + z * n)..<(c * count + (z + 1) * n), with: slice[(c * n)..<((c + 1) * n)]) }
            z += 1
        }
        try rewind()
        return Volume(grid: grid, voxels: voxels)
    }

    /// Slice `next` along z of every channel, channel-major (x fastest; `channels * nx * ny` values), or nil
    /// after the last.
    public func nextSlice() throws(VolumeError) -> [Float]? {
        if next == layout.size[2] { return nil }
        let n = layout.sliceValues, channels = layout.channels
        var out = [Float](repeating: 0, count: n * channels)
        if layout.interleaved {
            var fileOrder = [Float](repeating: 0, count: n * channels)
            try layout.decode(streams[0], count: n * channels, into: &fileOrder, at: 0)
            for v in 0..<n { for c in 0..<channels { out[c * n + v] = fileOrder[v * channels + c] } }
        } else {
            for c in 0..<channels { try layout.decode(streams[c], count: n, into: &out, at: c * n) }
        }
        next += 1
        return out
    }
}
