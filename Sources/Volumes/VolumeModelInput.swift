import Engine
import ImageIO

/// How a model takes a volume: the intensity windows, voxel spacing, orientation and interpolations its training
/// recorded (the `input.volume_*` metadata). `VolumeSegmentation` (`segrun predict`), segrun-edge and the C API
/// bring volumes to the model's grid and its labels back through this one description, so all three give the same
/// labels. Embedded-compatible (scripts/embedded/sources).
public struct VolumeModelInput {
    /// One per channel (the last serves the rest): the model's recorded ones, else the standard window.
    public var windows: [IntensityWindow]
    /// The voxel spacing (x, y, z) volumes are resampled to before the model: the model's, when it was trained on
    /// volumes; nil runs the volume at its own spacing.
    public var spacing: [Double]?
    /// How the training images and labels were resampled: inputs are resampled the same way, and labels mapped back.
    public var imageInterpolation: ImageInterpolation
    public var labelInterpolation: LabelInterpolation
    /// The orientation the model was trained in; nil when the model does not say.
    public var orientation: VolumeOrientation?

    public init(_ model: Model) {
        let metadata = model.metadata
        windows = metadata.string(MetadataKey.inputVolumeIntensity).flatMap(IntensityWindow.list) ?? [.standard]
        spacing = metadata.floats(MetadataKey.inputVolumeSpacing).flatMap { $0.count == 3 ? $0.map(Double.init) : nil }
        imageInterpolation = metadata.string(MetadataKey.inputVolumeInterpolation).flatMap(ImageInterpolation.init(rawValue:)) ?? .linear
        labelInterpolation = metadata.string(MetadataKey.inputVolumeLabelInterpolation).flatMap(LabelInterpolation.init(rawValue:)) ?? .nearest
        orientation = metadata.string(MetadataKey.inputVolumeOrientation).flatMap(VolumeOrientation.init)
    }

    /// How a volume with `affine` is turned to the model's orientation (nil: it is in it, or the model does not say).
    public func reorientation(_ affine: [[Double]]) -> Reorientation? {
        guard let orientation else { return nil }
        let r = Reorientation(from: VolumeOrientation(affine: affine), to: orientation)
        return r.isIdentity ? nil : r
    }

    /// A volume already in the model's orientation, windowed and resampled to the model's spacing: what the model
    /// segments. Streaming (`StreamedSlices`) gives the same bits without holding the input.
    public func modelGrid(_ volume: Volume) -> Volume {
        let windowed = IntensityWindow.apply(windows, to: volume)
        guard let spacing else { return windowed }
        return VolumeResampling.resample(windowed, to: spacing, interpolation: imageInterpolation)
    }

    /// The axes resampled by nearest neighbour (the coarse axis of strongly anisotropic data), from the model's
    /// spacing, else the input's.
    public func nearestAxes(inputSpacing: [Double]) -> [Bool] { VolumeResampling.nearestAxes(spacing ?? inputSpacing) }

    /// Labels on the model grid (`modelSize`) mapped back to the input grid (`inputSize`, `inputSpacing`), as the
    /// training labels were resampled.
    public func labelsOnInput(_ labels: [UInt8], modelSize: [Int], inputSize: [Int], inputSpacing: [Double]) -> [UInt8] {
        if modelSize == inputSize { return labels }
        return VolumeResampling.resampleLabels(labels, from: modelSize, to: inputSize, interpolation: labelInterpolation,
                                               nearestAxes: nearestAxes(inputSpacing: inputSpacing))
    }

    /// The label volume (class ids; a binary model's foreground is 1) of a 3D model over a volume held whole, on
    /// the volume's grid: turned to the model's orientation, windowed, resampled, segmented by Gaussian sliding
    /// windows (`Segmenter.volumeWindowing`), and the labels mapped back. The volume must have the model's channels.
    public func labels3D(_ volume: Volume, segmenter: Segmenter, options: InferenceOptions,
                         progress: (Int, Int) -> Void = { _, _ in }) throws(GraphError) -> [UInt8] {
        let turn = reorientation(volume.affine)
        let oriented = turn.map { $0.apply(volume) } ?? volume
        let grid = modelGrid(oriented)
        let p = try VolumeModelInput.probabilities(windowed: grid.voxels, size: grid.size, channels: grid.channels, segmenter: segmenter,
                                                   options: options, progress: progress)
        let labels = labelsOnInput(segmenter.labels(p), modelSize: grid.size, inputSize: oriented.size, inputSpacing: oriented.spacing)
        return turn.map { $0.inverse.apply(labels, size: oriented.size) } ?? labels
    }

    /// The labels of a 3D model over intensities already on its grid and in its orientation (x fastest, `size` =
    /// x, y, z; channel-major), as a volume file holds them: windowed, then as `labels3D(_:)`, without resampling.
    public func labels3D(onModelGrid intensities: [Float], size: [Int], channels: Int, segmenter: Segmenter,
                         options: InferenceOptions) throws(GraphError) -> [UInt8] {
        var voxels = intensities
        IntensityWindow.apply(windows, to: &voxels, channels: channels, voxelsPerChannel: size.reduce(1, *))
        return segmenter.labels(try VolumeModelInput.probabilities(windowed: voxels, size: size, channels: channels, segmenter: segmenter,
                                                                   options: options))
    }

    /// A 3D model's class probabilities (1 x classes x z x y x x) over windowed voxels on its grid: normalized by the
    /// model, then Gaussian sliding windows (`Segmenter.volumeWindowing`).
    public static func probabilities(windowed voxels: [Float], size: [Int], channels: Int, segmenter: Segmenter, options: InferenceOptions,
                                     progress: (Int, Int) -> Void = { _, _ in }) throws(GraphError) -> Tensor {
        let x = Tensor(shape: TensorShape(batch: 1, channels: channels, depth: size[2], height: size[1], width: size[0]),
                       data: Array(voxels.prefix(size.reduce(1, *) * channels)))
        return try segmenter.volumeProbabilities(segmenter.normalize(x), windowing: segmenter.volumeWindowing(options), progress: progress)
    }
}
