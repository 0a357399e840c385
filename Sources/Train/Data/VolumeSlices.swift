import Foundation
import Engine
import ImageIO
import Volumes

extension SegmentationDataset {
    /// A dataset of volumes (`VolumeDataset`: images/ and masks/, or nnU-Net's imagesTr/ and labelsTr/) as the
    /// slices a 2D model trains on: every case cut along its coarsest axis (z on a tie), each slice resized to the
    /// training size (bilinear; labels nearest). Intensities per channel as nnU-Net normalizes them, chosen by
    /// dataset.json's `channel_names`: "CT" gets one fixed window from the foreground voxels of every case
    /// (`IntensityWindow.ct`), any other name a z-score per volume; without channel names, the percentile window
    /// of `../shared/data`'s PNG slices. Samples are named `CASE_zNNNN` and remember their case, so `--val cases:F` holds out whole
    /// volumes and `stripes:F:K` runs of slices. Classes come from dataset.json's `labels` when it has them,
    /// else as for images (two values: binary).
    static func loadVolumes(_ root: String, height: Int, width: Int, axis chosen: SliceAxis?,
                            interpolation: (ImageInterpolation, LabelInterpolation), progress: ((Int, Int) -> Void)?) throws -> SegmentationDataset {
        var prepared = try PreparedVolumes(root, interpolation: interpolation)
        if let chosen { prepared.plan.axis = chosen }
        var samples: [Sample] = []
        var values = Set<UInt8>()
        var channels: Int? = nil
        for (k, c) in prepared.cases.enumerated() {
            let (image, labelVolume) = try prepared.load(k)
            if let channels, channels != image.channels { throw DatasetError.invalid("\(c.images[0]): \(image.channels) channel(s), the first case has \(channels)") }
            channels = image.channels
            let axis = prepared.plan.axis
            let (w, h) = axis.sliceSize(image.size)
            for s in 0..<axis.count(image.size) {
                var slice: [Float] = []
                for ch in 0..<image.channels {
                    let plane = Image(width: w, height: h, channels: 1, samples: image.slice(s, along: axis, channel: ch))
                    slice += resizeImage(plane, height, width)
                }
                let ids = labelVolume.slice(s, along: axis)
                for v in ids { values.insert(v) }
                samples.append(Sample(name: c.name + "_" + axis.rawValue + String(format: "%04d", s), image: slice,
                                      mask: resizeMask(ids, w, h, height, width), group: c.name))
            }
            progress?(k + 1, prepared.cases.count)
        }
        let windows = prepared.windows, plan = prepared.plan
        let declared = try labelNames(root)
        let classCount = declared?.count ?? (values.count <= 2 ? 2 : Int(values.max() ?? 1) + 1)
        let binary = classCount == 2
        if binary { for i in samples.indices { samples[i].mask = samples[i].mask.map { $0 > 0 ? 1 : 0 } } }
        else if let bad = values.first(where: { Int($0) >= classCount }) {
            throw DatasetError.badClass(file: root + "/labelsTr", value: Int(bad), classes: classCount)
        }
        let names = declared ?? (binary ? ["background", "foreground"] : (0..<classCount).map { $0 == 0 ? "background" : "class\($0)" })
        var dataset = SegmentationDataset(samples: samples, channels: channels ?? 1, modelClasses: binary ? 1 : classCount,
                                          classNames: binary ? [names.last ?? "foreground"] : names, height: height, width: width,
                                          name: (root as NSString).lastPathComponent)
        dataset.volumeIntensity = windows
        dataset.volumePlan = plan
        return dataset
    }

    /// The normalization of each channel (see `loadVolumes`).
    public static func intensityWindows(_ root: String, _ cases: [VolumeCase]) throws -> [IntensityWindow] {
        guard let object = try DatasetIndex.datasetJSON(root),
              let channels = (object["channel_names"] ?? object["modality"]) as? [String: Any], !channels.isEmpty else {
            return [.standard]
        }
        var windows: [IntensityWindow] = []
        for c in 0..<channels.count {
            guard let name = channels[String(c)] as? String else {
                throw DatasetError.invalid("\(root)/dataset.json: channel_names lacks channel \(c)")
            }
            if name.uppercased() != "CT" { windows.append(.zscore); continue }
            // The foreground voxels of every case, at most about a million of them.
            guard let ct = IntensityWindow.ct(foreground: try ForegroundIntensities.sample(cases, channel: c)) else {
                throw DatasetError.invalid("\(root): no foreground voxels to compute the CT window from")
            }
            windows.append(ct)
        }
        return windows
    }

    /// Class names from nnU-Net's dataset.json `labels` ({"background": 0, "liver": 1, ...}) in id order, when
    /// the ids are 0..K-1; nil otherwise.
    static func labelNames(_ root: String) throws -> [String]? {
        guard let object = try DatasetIndex.datasetJSON(root), let labels = object["labels"] as? [String: Any] else { return nil }
        var pairs: [(String, Int)] = []
        for (name, value) in labels {
            guard let id = (value as? NSNumber)?.intValue else { return nil }
            pairs.append((name, id))
        }
        pairs.sort { $0.1 < $1.1 }
        return pairs.map(\.1) == Array(0..<pairs.count) ? pairs.map(\.0) : nil
    }
}

/// The cases of a volume dataset as training sees them: each case's images normalized per channel
/// (`SegmentationDataset.intensityWindows`), turned to the first case's orientation (axes permuted and flipped,
/// no interpolation) and resampled to the plan's spacing, with its labels resampled alike. Slices for 2D
/// models and patches for 3D models are cut from these.
struct PreparedVolumes {
    let root: String
    let cases: [VolumeCase]
    let windows: [IntensityWindow]
    var plan: VolumePlan

    init(_ root: String, interpolation: (ImageInterpolation, LabelInterpolation)) throws {
        self.root = root
        cases = try VolumeDataset.scan(root)
        windows = try SegmentationDataset.intensityWindows(root, cases)
        // The plan: every case resampled to one target spacing; the headers of the label volumes give it.
        var grids: [VolumeGrid] = []
        for c in cases {
            guard let maskPath = c.mask else { throw DatasetError.missingMask(image: c.images[0], expected: "a label volume named \(c.name) in masks/ or labelsTr/") }
            grids.append(try VolumeFile.open(maskPath).grid)
        }
        plan = VolumePlan(grids: grids)
        (plan.imageInterpolation, plan.labelInterpolation) = interpolation
    }

    /// Case `k`: its images (every modality as a channel) and labels, normalized, turned and resampled.
    func load(_ k: Int) throws -> (image: Volume, labels: LabelVolume) {
        let c = cases[k]
        guard let maskPath = c.mask else { throw DatasetError.missingMask(image: c.images[0], expected: "a label volume named \(c.name) in masks/ or labelsTr/") }
        let turn = plan.turns[k]
        let images = try c.images.map { p throws -> Volume in turn.apply(try VolumeFile.read(p)) }
        let mask = turn.apply(try VolumeFile.read(maskPath))
        for (path, image) in zip(c.images, images) where image.size != mask.size {
            throw DatasetError.invalid("\(maskPath): \(mask.size.map(String.init).joined(separator: "x")) voxels, its image \(path) has \(image.size.map(String.init).joined(separator: "x"))")
        }
        var voxels: [Float] = [], channels = 0
        var resampledImage: Volume? = nil
        for image in images {
            let normalized = IntensityWindow.apply(Array(windows[min(channels, windows.count - 1)...]), to: image)
            let resampled = VolumeResampling.resample(normalized, to: plan.target, interpolation: plan.imageInterpolation)
            voxels += resampled.voxels
            channels += resampled.channels
            resampledImage = resampledImage ?? resampled
        }
        var image = resampledImage!
        image.voxels = voxels
        image.channels = channels
        let resampledSize = VolumeResampling.size(mask.size, spacing: mask.spacing, target: plan.target)
        let rawLabels = mask.voxels.prefix(mask.voxelCount).map { UInt8(max(0, min(255, $0.rounded()))) }
        let labels = VolumeResampling.resampleLabels(rawLabels, from: mask.size, to: resampledSize, interpolation: plan.labelInterpolation,
                                                     nearestAxes: VolumeResampling.nearestAxes(plan.target))
        return (image, LabelVolume(size: resampledSize, labels: labels))
    }
}
