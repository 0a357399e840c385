import Engine
import Kernels
import ImageIO

/// A 2D (or 2.5D) model run over a volume slice by slice: each slice (with its neighbours as channels for a
/// 2.5D model) goes through the `Segmenter` as an image would, `batch` slices per forward pass, and the label
/// slices are assembled into a label volume on the input's grid.
///
/// Volumes are normalized, then (a model trained on volumes) resampled to the model's spacing and cut along
/// its axis, in the order training did both; the labels are resampled back as the training labels were (nearest,
/// or linear on one-hot: `input.volume_label_interpolation`). A volume opened with
/// `VolumeFile.open` and cut along z (the file's slowest axis, axial for the usual scan) is streamed: memory
/// holds the labels and a few slices, never the volume (`StreamedSlices`). Along x or y it is read whole.
public struct VolumeSegmentation {
    public let segmenter: Segmenter
    public var axis: SliceAxis?
    /// One per channel (the last serves the rest): the model's recorded ones, else the standard window.
    public var windows: [IntensityWindow]
    public var options: InferenceOptions
    /// Slices per forward pass; nil chooses by slice size (`automaticBatch`).
    public var batch: Int?

    public init(segmenter: Segmenter, axis: SliceAxis? = nil, windows: [IntensityWindow]? = nil,
                options: InferenceOptions = InferenceOptions(), batch: Int? = nil) {
        self.segmenter = segmenter
        self.axis = axis
        self.windows = windows ?? VolumeModelInput(segmenter.model).windows
        self.options = options
        self.batch = batch.map { max(1, $0) }
    }

    /// The voxel spacing (x, y, z) volumes are resampled to before the model, overriding the model's (an
    /// untrained or imported model records none).
    public var spacing: [Double]? = nil

    /// How the model takes volumes, with this run's windows and spacing.
    public var input: VolumeModelInput {
        var input = VolumeModelInput(segmenter.model)
        input.windows = windows
        if let spacing { input.spacing = spacing }
        return input
    }

    /// The axis a volume of `spacing` (after resampling) is cut along: the one asked for, else the model's, else
    /// the coarsest.
    public func slicingAxis(size: [Int], spacing: [Double]) -> SliceAxis {
        let recorded = segmenter.model.metadata.string(MetadataKey.inputVolumeAxis).flatMap(SliceAxis.init(rawValue:))
        let resampled = input.spacing.map { VolumeResampling.spacing(size, spacing: spacing, target: $0) } ?? spacing
        return axis ?? recorded ?? SliceAxis.coarsest(resampled)
    }

    /// How a volume with `affine` is turned to the orientation the model was trained in (nil: it is in it, or
    /// the model does not say).
    public func reorientation(_ affine: [[Double]]) -> Reorientation? { input.reorientation(affine) }

    /// The label volume of a volume held whole (class ids; a binary model's foreground is 1). `progress(done,
    /// total)` is called after each batch of slices. `probabilities`, when given, receives the class
    /// probabilities on the input's grid, one z slice at a time in order (`classes` planes, x fastest; one
    /// plane, the foreground's, for a binary model).
    public func labels(_ original: Volume, probabilities: ((Int, [Float]) throws -> Void)? = nil,
                       progress: (Int, Int) -> Void = { _, _ in }) throws -> LabelVolume {
        try checkChannels(original.channels)
        guard let turn = reorientation(original.affine) else {
            return try labelsAsOriented(original, probabilities: probabilities, progress: progress)
        }
        // In the model's orientation, then back: labels, and probabilities gathered whole and turned back.
        let turned = turn.apply(original)
        let classes = segmenter.model.classes, plane = turned.size[0] * turned.size[1], n = turned.voxelCount
        var gathered = [Float](repeating: 0, count: probabilities == nil ? 0 : classes * n)
        let labels = try labelsAsOriented(turned, probabilities: probabilities == nil ? nil : { z, p in
            for c in 0..<classes {
                let start: Int = c * n + z * plane
                gathered.replaceSubrange(start..<(start + plane), with: p[(c * plane)..<((c + 1) * plane)])
            }
        }, progress: progress)
        let back = turn.inverse
        if let probabilities {
            let restored = back.apply(gathered, size: turned.size, channels: classes)
            let m = original.voxelCount, originalPlane = original.size[0] * original.size[1]
            for z in 0..<original.size[2] {
                var planes: [Float] = []
                for c in 0..<classes {
                    let start: Int = c * m + z * originalPlane
                    planes.append(contentsOf: restored[start..<(start + originalPlane)])
                }
                try probabilities(z, planes)
            }
        }
        return LabelVolume(size: original.size, labels: back.apply(labels.labels, size: turned.size))
    }

    /// `labels(_:probabilities:progress:)` for a volume in the model's orientation.
    func labelsAsOriented(_ original: Volume, probabilities: ((Int, [Float]) throws -> Void)?,
                          progress: (Int, Int) -> Void) throws -> LabelVolume {
        return try labels(onModelGrid: input.modelGrid(original), original: original.grid, probabilities: probabilities, progress: progress)
    }

    /// The labels on the input's grid of `volume`, the input (`original`) already windowed and resampled to the
    /// model's spacing; `probabilities` as for a volume held whole.
    func labels(onModelGrid volume: Volume, original: VolumeGrid, probabilities: ((Int, [Float]) throws -> Void)?,
                progress: (Int, Int) -> Void) throws -> LabelVolume {
        let axis = slicingAxis(size: original.size, spacing: original.spacing)
        let (w, h) = axis.sliceSize(volume.size)
        var out = LabelVolume(size: volume.size)
        let classes = segmenter.model.classes
        var modelProbabilities = [Float](repeating: 0, count: probabilities == nil ? 0 : classes * volume.voxelCount)
        if segmenter.model.inputSpatialRank == 3 {
            let p = try volumeProbabilities(volume, progress: progress)
            out.labels = segmenter.labels(p)
            if probabilities != nil { modelProbabilities = p.data }
        } else {
        try segmentSlices(count: axis.count(volume.size), width: w, height: h, channels: volume.channels,
                          slice: { s in (0..<volume.channels).flatMap { volume.slice(s, along: axis, channel: $0) } },
                          emit: { s, labels, p in
                              out.place(labels, at: s, along: axis)
                              if probabilities != nil {
                                  ProbabilitySlices.place(p, classes: classes, at: s, along: axis, size: volume.size, into: &modelProbabilities)
                              }
                          }, progress: progress)
        }
        if let probabilities {
            let back = ProbabilitySlices(model: volume.size, input: original.size, classes: classes,
                                         nearestAxes: input.nearestAxes(inputSpacing: original.spacing), sink: probabilities)
            let n = volume.voxelCount, plane = volume.size[0] * volume.size[1]
            for z in 0..<volume.size[2] {
                var planes: [Float] = []
                planes.reserveCapacity(classes * plane)
                for c in 0..<classes {
                    let start: Int = c * n + z * plane
                    planes.append(contentsOf: modelProbabilities[start..<(start + plane)])
                }
                try back.add(z, planes: planes)
            }
        }
        return LabelVolume(size: original.size, labels: input.labelsOnInput(out.labels, modelSize: volume.size, inputSize: original.size,
                                                                          inputSpacing: original.spacing))
    }

    /// The label volume of an opened volume file: streamed along z, else read whole. `probabilities` as for
    /// a volume held whole.
    public func labels(_ reader: VolumeReader, probabilities: ((Int, [Float]) throws -> Void)? = nil,
                       progress: (Int, Int) -> Void = { _, _ in }) throws -> LabelVolume {
        let grid = reader.grid
        try checkChannels(grid.channels)
        if segmenter.model.inputSpatialRank == 3 && reorientation(grid.affine) == nil {
            // A 3D model needs the volume whole, but only on its own grid: the slices stream in, windowed and
            // resampled, so the input's float voxels are never held (a CT at 0.8 mm is 300 MiB of them).
            let slices = try StreamedSlices(reader, windows: windows, target: input.spacing, interpolation: input.imageInterpolation)
            let plane = slices.size[0] * slices.size[1], n = plane * slices.size[2]
            var voxels = [Float](repeating: 0, count: grid.channels * n)
            for z in 0..<slices.size[2] {
                let planes = try slices.planes(z)
                for c in 0..<grid.channels { voxels.replaceSubrange((c * n + z * plane)..<(c * n + (z + 1) * plane), with: planes[(c * plane)..<((c + 1) * plane)]) }
            }
            let volume = Volume(size: slices.size, channels: grid.channels, voxels: voxels, spacing: input.spacing ?? grid.spacing, affine: grid.affine,
                                units: grid.units, source: grid.source)
            return try labels(onModelGrid: volume, original: grid, probabilities: probabilities, progress: progress)
        }
        guard segmenter.model.inputSpatialRank != 3 && slicingAxis(size: grid.size, spacing: grid.spacing) == .z && reorientation(grid.affine) == nil else {
            return try labels(reader.readVolume(), probabilities: probabilities, progress: progress)
        }
        let slices = try StreamedSlices(reader, windows: windows, target: input.spacing, interpolation: input.imageInterpolation)
        let (mx, my) = (slices.size[0], slices.size[1])
        let (nx, ny, nz) = (grid.size[0], grid.size[1], grid.size[2])
        // Each input slice takes the labels of its nearest model slice, each voxel of its nearest model voxel.
        let mapX = (0..<nx).map { VolumeResampling.nearestIndex($0, mx, nx) }
        let mapY = (0..<ny).map { VolumeResampling.nearestIndex($0, my, ny) }
        let mapZ = (0..<nz).map { VolumeResampling.nearestIndex($0, slices.size[2], nz) }
        var out = LabelVolume(size: grid.size)
        var z = 0
        // Linear on one-hot: each input slice from the two model slices around it (kept as volume planes).
        let linear = input.labelInterpolation == .linear && slices.size != grid.size
        let nearestAxes = input.nearestAxes(inputSpacing: grid.spacing)
        let zTaps = VolumeResampling.taps(slices.size[2], nz, nearest: nearestAxes[2])
        let inPlane = LabelPlaneResampler(from: [mx, my], to: [nx, ny], nearestAxes: nearestAxes)
        var planes: [Int: [UInt8]] = [:]
        let classes = segmenter.model.classes
        let back = probabilities.map { ProbabilitySlices(model: slices.size, input: grid.size, classes: classes, nearestAxes: nearestAxes, sink: $0) }
        try segmentSlices(count: slices.size[2], width: mx, height: my, channels: grid.channels,
                          slice: { s in try slices.image(s) },
                          emit: { s, labels, p in
                              if let back {
                                  // Image rows back to volume planes (y flipped), per class.
                                  var volumePlanes = [Float](repeating: 0, count: classes * mx * my)
                                  let base = p.startIndex
                                  for c in 0..<classes { for r in 0..<my { for x in 0..<mx {
                                      volumePlanes[(c * my + my - 1 - r) * mx + x] = p[base + (c * my + r) * mx + x]
                                  } } }
                                  try back.add(s, planes: volumePlanes)
                              }
                              if linear {
                                  var plane = [UInt8](repeating: 0, count: mx * my)
                                  for r in 0..<my { for x in 0..<mx { plane[(my - 1 - r) * mx + x] = labels[r * mx + x] } }
                                  planes[s] = plane
                                  while z < nz && zTaps[z].1 <= s {
                                      let (z0, z1, w) = zTaps[z]
                                      let slice = inPlane.resample(planes[z0]![...], planes[z1]![...], weight: w)
                                      out.labels.replaceSubrange((z * nx * ny)..<((z + 1) * nx * ny), with: slice)
                                      z += 1
                                  }
                                  if z < nz { for old in planes.keys where old < zTaps[z].0 { planes[old] = nil } }
                                  return
                              }
                              while z < nz && mapZ[z] == s {
                                  for y in 0..<ny {
                                      let row = (my - 1 - mapY[y]) * mx, base = (z * ny + y) * nx
                                      for x in 0..<nx { out.labels[base + x] = labels[row + mapX[x]] }
                                  }
                                  z += 1
                              }
                          }, progress: progress)
        return out
    }

    /// A 3D model takes a volume of exactly its input channels (a 2D model repeats a grey volume's one channel for
    /// a colour model): checked before the volume is read, turned or resampled. The callers name the file
    /// (`segrun predict`, `eval`), as for an image of the wrong rank.
    func checkChannels(_ channels: Int) throws {
        let model = segmenter.model
        guard model.inputSpatialRank == 3 && channels != model.inputChannels else { return }
        throw GraphError.shape(node: model.graph.nodes[model.graph.inputNodes[0]].name,
                               "the volume has \(channels) channel(s), the model takes \(model.inputChannels)")
    }

    /// A 3D model's class probabilities (1 x classes x z x y x x) over a windowed, resampled volume: normalized by
    /// the model's mean and std, then Gaussian sliding windows of `options.tile` (a cube), else the model's training
    /// patch, else 64 per axis; `options.flips` mirrors each window along every subset of its axes (8 passes).
    public func volumeProbabilities(_ volume: Volume, progress: (Int, Int) -> Void) throws -> Tensor {
        try checkChannels(volume.channels)
        return try VolumeModelInput.probabilities(windowed: volume.voxels, size: volume.size, channels: volume.channels, segmenter: segmenter,
                                                  options: options, progress: progress)
    }

    /// The model's input planes for slice `s` of `count`: its neighbours' first channel for a 2.5D model, else
    /// its channels (a grey volume's one channel repeated for a colour model).
    func inputPlanes(_ s: Int, count: Int, plane: Int, channels: Int, slice: (Int) throws -> [Float]) throws -> [Float] {
        let model = segmenter.model
        let neighbours = model.metadata.int(MetadataKey.inputSlices) ?? 1
        var planes: [Float] = []
        if neighbours > 1 {
            for k in 0..<neighbours { planes += try slice(min(count - 1, max(0, s + k - neighbours / 2))).prefix(plane) }
        } else {
            let all = try slice(s)
            planes += all.prefix(min(channels, model.inputChannels) * plane)
            for _ in min(channels, model.inputChannels)..<model.inputChannels { planes += all.prefix(plane) }
        }
        return planes
    }

    /// `count` slices evenly spaced through a volume as the model sees them (windowed, resampled, cut, before
    /// the model's own normalization): calibration data for int8 quantization.
    public func inputSlices(_ given: Volume, count wanted: Int) throws -> [Tensor] {
        let original = reorientation(given.affine).map { $0.apply(given) } ?? given
        let volume = input.modelGrid(original)
        let axis = slicingAxis(size: original.size, spacing: original.spacing)
        let (w, h) = axis.sliceSize(volume.size)
        let count = axis.count(volume.size), n = min(max(1, wanted), count)
        let grid = volume
        return try (0..<n).map { i in
            let s = (2 * i + 1) * count / (2 * n)
            let planes = try inputPlanes(s, count: count, plane: w * h, channels: grid.channels) { t in
                (0..<grid.channels).flatMap { grid.slice(t, along: axis, channel: $0) }
            }
            return Tensor(shape: TensorShape(batch: 1, channels: planes.count / (w * h), height: h, width: w), data: planes)
        }
    }

    /// `count` windows of a 3D model (its training patch, or 64 per axis) through a volume as the model sees it
    /// (windowed, resampled; before the model's own normalization), centred at evenly spaced points of the
    /// volume's diagonal and cut to fit: calibration data for int8 quantization of 3D models.
    public func inputPatches(_ given: Volume, count wanted: Int) -> [Tensor] {
        let original = reorientation(given.affine).map { $0.apply(given) } ?? given
        let volume = input.modelGrid(original)
        let m = segmenter.model.inputMultiple, size = [volume.size[2], volume.size[1], volume.size[0]]
        let patch = (0..<3).map { a in
            let p = segmenter.volumeWindowing(InferenceOptions()).window[a]
            return max(m, min(p, (size[a] + m - 1) / m * m))
        }
        let x = Tensor(shape: TensorShape(batch: 1, channels: volume.channels, depth: size[0], height: size[1], width: size[2]),
                       data: Array(volume.voxels.prefix(volume.voxelCount * volume.channels)))
        let n = max(1, wanted)
        return (0..<n).map { i in
            let origin = (0..<3).map { a in max(0, min(size[a] - patch[a], (2 * i + 1) * size[a] / (2 * n) - patch[a] / 2)) }
            return VolumeWindowing.crop(x, origin: origin, extent: patch)
        }
    }

    /// Slices of `pixels` per forward pass: as many as make 64 Ki pixels (at most 16), since larger batches
    /// only add memory (and on Zen 3, 512x512 CT slices ran slower 4 at a time than one at a time) and smaller
    /// slices pay a fixed cost per pass.
    public static func automaticBatch(pixels: Int) -> Int { max(1, min(16, 65536 / max(1, pixels))) }

    /// Runs `count` slices through the model, `batch` at a time. `slice(s)` gives slice s of the normalized,
    /// resampled volume as image rows, one plane per channel; `emit(s, labels, probabilities)` takes its label
    /// image and its class probabilities (image rows, one plane per class).
    func segmentSlices(count: Int, width w: Int, height h: Int, channels: Int, slice: (Int) throws -> [Float],
                       emit: (Int, [UInt8], ArraySlice<Float>) throws -> Void, progress: (Int, Int) -> Void) throws {
        let plane = w * h
        let batch = self.batch ?? VolumeSegmentation.automaticBatch(pixels: plane)
        for first in stride(from: 0, to: count, by: batch) {
            let members = first..<min(count, first + batch)
            var planes: [Float] = []
            planes.reserveCapacity(members.count * segmenter.model.inputChannels * plane)
            for s in members { planes += try inputPlanes(s, count: count, plane: plane, channels: channels, slice: slice) }
            let x = Tensor(shape: TensorShape(batch: members.count, channels: planes.count / (members.count * plane), height: h, width: w), data: planes)
            let p = try segmenter.probabilities(segmenter.normalize(x), options: options)
            let labels = segmenter.labels(p)
            let classes = p.shape.channels
            for (i, s) in members.enumerated() {
                try emit(s, Array(labels[(i * plane)..<((i + 1) * plane)]), p.data[(i * classes * plane)..<((i + 1) * classes * plane)])
            }
            progress(members.upperBound, count)
        }
    }
}
