import Engine
import Kernels
import ImageIO

/// A 2D (or 2.5D) model run over a volume slice by slice: each slice (with its neighbours as channels for a
/// 2.5D model) goes through the `Segmenter` as an image would, and the label slices are assembled into a label
/// volume on the input's grid. Memory: the volume, its labels, and one batch of slices.
public struct VolumeSegmentation {
    public let segmenter: Segmenter
    public var axis: SliceAxis?
    /// One per channel (the last serves the rest): the model's recorded ones, else the standard window.
    public var windows: [IntensityWindow]
    public var options: InferenceOptions

    public init(segmenter: Segmenter, axis: SliceAxis? = nil, windows: [IntensityWindow]? = nil, options: InferenceOptions = InferenceOptions()) {
        self.segmenter = segmenter
        self.axis = axis
        let recorded = segmenter.model.metadata.string(MetadataKey.inputVolumeIntensity).flatMap(IntensityWindow.list)
        self.windows = windows ?? recorded ?? [.standard]
        self.options = options
    }

    /// The label volume of `volume` (class ids; a binary model's foreground is 1). `progress(done, total)`
    /// is called after each slice.
    public func labels(_ original: Volume, progress: (Int, Int) -> Void = { _, _ in }) throws(GraphError) -> LabelVolume {
        let model = segmenter.model
        // Normalized, then (a model trained on volumes) resampled to its spacing and cut along its axis, in the
        // order training did both; the labels are resampled back (nearest).
        var windowed = IntensityWindow.apply(windows, to: original)
        if let target = model.metadata.floats(MetadataKey.inputVolumeSpacing), target.count == 3 {
            windowed = VolumeResampling.resample(windowed, to: target.map(Double.init))
        }
        let volume = windowed
        let recordedAxis = model.metadata.string(MetadataKey.inputVolumeAxis).flatMap(SliceAxis.init(rawValue:))
        let axis = self.axis ?? recordedAxis ?? SliceAxis.coarsest(volume.spacing)
        let slices = model.metadata.int(MetadataKey.inputSlices) ?? 1
        let (w, h) = axis.sliceSize(volume.size)
        let count = axis.count(volume.size)
        var out = LabelVolume(size: volume.size)
        for s in 0..<count {
            var planes: [Float] = []
            if slices > 1 {
                for k in 0..<slices { planes += windowed.slice(min(count - 1, max(0, s + k - slices / 2)), along: axis) }
            } else {
                for c in 0..<min(volume.channels, model.inputChannels) { planes += windowed.slice(s, along: axis, channel: c) }
                // A grey volume for a colour model: the one channel repeated.
                while planes.count < model.inputChannels * w * h { planes += windowed.slice(s, along: axis) }
            }
            let x = Tensor(shape: TensorShape(batch: 1, channels: planes.count / (w * h), height: h, width: w), data: planes)
            let p = try segmenter.probabilities(segmenter.normalize(x), options: options)
            out.place(segmenter.labels(p), at: s, along: axis)
            progress(s + 1, count)
        }
        if volume.size != original.size {
            return LabelVolume(size: original.size, labels: VolumeResampling.resampleLabels(out.labels, from: volume.size, to: original.size))
        }
        return out
    }
}
