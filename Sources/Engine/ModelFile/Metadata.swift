/// A typed metadata value.
public enum MetadataValue: Equatable {
    case int(Int64)
    case float(Double)
    case string(String)
    case floats([Float])
    case strings([String])
    case ints([Int64])

    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .float(let v): return "\(v)"
        case .string(let v): return v
        case .floats(let v):
            var s = ""
            for x in v { s += (s.isEmpty ? "" : ", ") + "\(x)" }
            return "[" + s + "]"
        case .strings(let v):
            var s = ""
            for x in v { s += (s.isEmpty ? "" : ", ") + x }
            return "[" + s + "]"
        case .ints(let v):
            var s = ""
            for x in v { s += (s.isEmpty ? "" : ", ") + "\(x)" }
            return "[" + s + "]"
        }
    }
}

/// Ordered key/value metadata with dotted keys (`input.channels`, `train.val_dice`). Keys are unique.
/// `MetadataKey` lists the keys segrun writes and reads.
public struct Metadata: Equatable {
    public private(set) var entries: [(key: String, value: MetadataValue)] = []

    public init() {}

    public subscript(key: String) -> MetadataValue? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public func int(_ key: String) -> Int? {
        if case .int(let v)? = self[key] { return Int(v) }
        return nil
    }

    public func double(_ key: String) -> Double? {
        switch self[key] {
        case .float(let v)?: return v
        case .int(let v)?: return Double(v)
        default: return nil
        }
    }

    public func string(_ key: String) -> String? {
        if case .string(let v)? = self[key] { return v }
        return nil
    }

    public func floats(_ key: String) -> [Float]? {
        if case .floats(let v)? = self[key] { return v }
        return nil
    }

    public func strings(_ key: String) -> [String]? {
        if case .strings(let v)? = self[key] { return v }
        return nil
    }

    public static func == (a: Metadata, b: Metadata) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// The metadata keys segrun defines.
public enum MetadataKey {
    public static let architecture = "model.architecture"
    public static let preset = "model.preset"
    public static let baseWidth = "model.base_width"
    public static let depth = "model.depth"
    public static let normalization = "model.normalization"
    public static let upsampling = "model.upsampling"
    /// 1 when every level block ends in a squeeze-and-excitation block (`--se`).
    public static let squeezeExcitation = "model.squeeze_excitation"
    /// 1 when UNet 3+'s classification-guided module gates the heads (`PresenceGate`).
    public static let classificationGuided = "model.classification_guided"
    public static let inputChannels = "input.channels"
    /// H and W are padded to a multiple of this before the graph runs.
    public static let inputMultiple = "input.multiple"
    /// Per-channel mean and std: the network sees `(pixel / maxValue - mean) / std`.
    public static let inputMean = "input.mean"
    public static let inputStd = "input.std"
    /// [H, W] the model was trained at: images are resized to it, and the outputs back (bilinear).
    public static let inputSize = "input.size"
    /// [D, H, W] of the patches a 3D model trained on: the sliding window `predict` and `eval` use by default.
    public static let inputPatch = "input.patch"
    /// 2.5D models: the number of neighbouring slices (in name order) stacked as input channels.
    public static let inputSlices = "input.slices"
    /// How a volume's intensities map to the model's [0, 1] input ("percentile:0.5:99.5"; `Volumes.IntensityWindow`).
    public static let inputVolumeIntensity = "input.volume_intensity"
    /// The voxel spacing (x, y, z) a model trained on volumes saw; `predict` resamples to it and back.
    public static let inputVolumeSpacing = "input.volume_spacing"
    /// The axis (x, y or z) a 2D model trained on volumes was sliced along.
    public static let inputVolumeAxis = "input.volume_axis"
    /// How images were resampled to that spacing ("linear" or "cubic"; absent: linear).
    public static let inputVolumeInterpolation = "input.volume_interpolation"
    /// How label maps were resampled ("nearest" or "linear" on one-hot; absent: nearest); `predict` maps its
    /// labels back to the input's grid the same way.
    public static let inputVolumeLabelInterpolation = "input.volume_label_interpolation"
    /// The orientation of the volumes a model was trained on, as axis codes ("RAS", "LPS", ...; `Volumes.VolumeOrientation`);
    /// `predict` reorients a volume stored otherwise to it, and its labels back.
    public static let inputVolumeOrientation = "input.volume_orientation"
    public static let classes = "output.classes"
    public static let classNames = "output.class_names"
    /// Probability threshold of binary masks.
    public static let threshold = "output.threshold"
    /// 1 for a multi-label model: `output.classes` independent sigmoid outputs, one per label, whose masks may
    /// overlap (absent: a binary model when there is one class, else softmax over the classes).
    public static let multilabel = "output.multilabel"
    /// A multi-label model's threshold per label (absent: `output.threshold` for every label).
    public static let thresholds = "output.thresholds"
    public static let trainDataset = "train.dataset"
    public static let trainEpochs = "train.epochs"
    public static let trainValidationDice = "train.val_dice"
    /// The training run's validation split (`segrun train --val`) and seed, so `segrun eval --val train`
    /// can score exactly the images training held out.
    public static let trainValidationSplit = "train.val_split"
    public static let trainSeed = "train.seed"
    public static let toolVersion = "tool.version"
    public static let precision = "model.precision"
    /// int8 models: node names with 8-bit outputs, and their scales and zero points (same order).
    public static let quantTensors = "quant.tensors"
    public static let quantScales = "quant.scales"
    public static let quantZeroPoints = "quant.zero_points"
    /// int8 models: calibration method, number of images, and a hash of the calibration set.
    public static let quantMethod = "quant.method"
    public static let quantCalibrationImages = "quant.calibration_images"
    public static let quantCalibrationHash = "quant.calibration_hash"
    /// int8 models: nodes kept in fp32 (mixed precision).
    public static let quantKeptFloat = "quant.kept_fp32"
}
