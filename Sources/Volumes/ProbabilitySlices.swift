/// Class probabilities made on the model's grid, mapped back to the input's grid and handed out one input z
/// slice at a time, in order. Linear (nearest along an axis that was resampled nearest), in plane first and
/// then along z: the order of `VolumeResampling.resample`, so a streamed prediction and one held whole give
/// the same bits. Memory: two model slices of probabilities on the input's plane.
final class ProbabilitySlices {
    /// Receives input slice z: `classes` planes of `nx * ny` values, x fastest.
    typealias Sink = (Int, [Float]) throws -> Void

    private let model: [Int]
    private let input: [Int]
    private let classes: Int
    private let nearest: [Bool]
    private let zTaps: [(Int, Int, Float)]
    private let sink: Sink
    private var planes: [Int: [Float]] = [:]
    private var next = 0

    init(model: [Int], input: [Int], classes: Int, nearestAxes: [Bool], sink: @escaping Sink) {
        self.model = model
        self.input = input
        self.classes = classes
        nearest = nearestAxes
        zTaps = VolumeResampling.taps(model[2], input[2], nearest: nearestAxes[2])
        self.sink = sink
    }

    /// Model slice `s` (slices come in order): `classes` planes of `mx * my` values, x fastest.
    func add(_ s: Int, planes modelPlanes: [Float]) throws {
        let m = model[0] * model[1], n = input[0] * input[1]
        var resampled: [Float] = []
        resampled.reserveCapacity(classes * n)
        for c in 0..<classes {
            var data = Array(modelPlanes[(c * m)..<((c + 1) * m)]), current = [model[0], model[1], 1]
            for axis in 0..<2 where input[axis] != current[axis] {
                (data, current) = VolumeResampling.resampleAxis(data, size: current, axis: axis, to: input[axis], nearest: nearest[axis])
            }
            resampled += data
        }
        planes[s] = resampled
        while next < input[2] && zTaps[next].1 <= s {
            let (z0, z1, w) = zTaps[next]
            let a = planes[z0]!
            if model[2] == input[2] {
                try sink(next, a)
            } else {
                try sink(next, VolumeResampling.blend(a, planes[z1]!, weight: w))
            }
            next += 1
        }
        if next < input[2] { for old in planes.keys where old < zTaps[next].0 { planes[old] = nil } }
    }

    /// Model probabilities of slice `s` along `axis` (image rows, `classes` planes) placed into `volume`, a
    /// model-grid volume of `classes` channels.
    static func place(_ rows: ArraySlice<Float>, classes: Int, at s: Int, along axis: SliceAxis, size: [Int], into volume: inout [Float]) {
        let (w, h) = axis.sliceSize(size)
        let n = size.reduce(1, *), base = rows.startIndex
        for c in 0..<classes {
            for r in 0..<h { for col in 0..<w { volume[c * n + axis.voxel(size, slice: s, row: r, column: col)] = rows[base + (c * h + r) * w + col] } }
        }
    }
}
