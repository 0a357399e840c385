import Foundation
import Kernels
import Engine
import ImageIO
import Volumes

/// One training example at the training size: the image as planes (CHW, samples in [0, 1]) and the
/// mask as class ids (H x W).
public struct Sample {
    public var name: String
    public var image: [Float]
    public var mask: [UInt8]
    /// The case (volume) a slice came from; nil for an image.
    public var group: String? = nil

    public init(name: String, image: [Float], mask: [UInt8], group: String? = nil) {
        self.name = name
        self.image = image
        self.mask = mask
        self.group = group
    }
}

/// Why a dataset cannot be used. Each case names the file.
public enum DatasetError: Error, CustomStringConvertible {
    case notFound(String)
    case empty(String)
    case missingMask(image: String, expected: String)
    case unreadable(String)
    case badClass(file: String, value: Int, classes: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such dataset folder (expected images/ and masks/ inside)"
        case .empty(let p): return "\(p): the dataset has no images"
        case .missingMask(let image, let expected): return "\(image): no mask (expected \(expected))"
        case .unreadable(let e): return e
        case .badClass(let f, let v, let c): return "\(f): mask value \(v) is not a class id below \(c)"
        case .invalid(let s): return s
        }
    }
}

/// A segmentation dataset in any layout `DatasetIndex` reads (folder, ISIC, nnU-Net v2 raw), with classes
/// named by its `dataset.json` when it has one. Masks are class ids; binary masks may be 0/255 (anything above 0 is
/// foreground). Images are resized to the training size (bilinear), masks too (nearest).
public struct SegmentationDataset {
    public var samples: [Sample]
    public var channels: Int
    /// Output channels the model needs: 1 for binary data, else the number of classes.
    public var modelClasses: Int
    public var classNames: [String]
    public var height: Int
    public var width: Int
    public var name: String
    /// For a dataset of volumes: how each channel's intensities were normalized (`IntensityWindow`), which the
    /// model records so that `predict` does the same.
    public var volumeIntensity: [IntensityWindow]? = nil
    /// For a dataset of volumes: the spacing its slices were resampled to and the axis they were cut along.
    public var volumePlan: VolumePlan? = nil
    /// Multi-label data: masks hold label bits (bit c: label c, named `classNames[c + 1]`), overlaps kept.
    public var multilabel = false

    /// Scans and loads `root`. `channels` forces the image channels (default: those of the first image).
    /// `axis` chooses the slicing axis of a dataset of volumes (default: the plan's coarsest).
    /// A dataset of volumes is resampled with `interpolation` (images, labels).
    /// `multilabel` keeps overlapping labels as label bits (one mask folder per label, a multi-channel mask, or
    /// the RLE CSV's classes); see `loadLabels`.
    /// Refuses a training size at which the dataset cannot be held in memory, before any image is read: every case
    /// holds at least one float plane of `height x width` (a volume at least one slice), so `--size 30000` is one
    /// line instead of minutes of loading ended by the kernel's out-of-memory killer.
    public static func checkFits(_ root: String, height: Int, width: Int) throws {
        let cases = VolumeDataset.holdsVolumes(root) ? try VolumeDataset.scan(root).count : try DatasetIndex.scan(root).cases.count
        let (plane, o1) = height.multipliedReportingOverflow(by: width * 4)
        let (bytes, o2) = plane.multipliedReportingOverflow(by: cases)
        let available = MemoryBudget.physicalBytes
        if available > 0 && (o1 || o2 || bytes > available) {
            throw DatasetError.invalid("\(root): \(cases) case(s) at \(height)x\(width) need at least \(o1 || o2 ? "more than \(available >> 20)" : "\(bytes >> 20)") MiB of memory; this machine has \(available >> 20) MiB: give a smaller --size")
        }
    }

    public static func loadFolder(_ root: String, height: Int, width: Int, channels: Int? = nil, axis: SliceAxis? = nil,
                                  interpolation: (ImageInterpolation, LabelInterpolation) = (.linear, .nearest),
                                  multilabel: Bool = false, progress: ((Int, Int) -> Void)? = nil) throws -> SegmentationDataset {
        if VolumeDataset.holdsVolumes(root) {
            if multilabel { throw DatasetError.invalid("\(root): --multilabel reads images (masks/LABEL/ folders, multi-channel masks or train.csv), not volumes") }
            return try loadVolumes(root, height: height, width: width, axis: axis, interpolation: interpolation, progress: progress)
        }
        let index = try DatasetIndex.scan(root)
        if multilabel { return try loadLabels(root, index, height: height, width: width, channels: channels, progress: progress) }
        if index.cases.first?.labelMasks != nil {
            throw DatasetError.invalid("\(root)/masks holds one folder per label (\(index.classNames?.joined(separator: ", ") ?? "")): train with --multilabel")
        }
        let declared = index.classNames
        var samples: [Sample] = []
        var imageChannels = channels
        var maxValue: UInt8 = 0
        var values = Set<UInt8>()
        for (k, entry) in index.cases.enumerated() {
            let stem = entry.name, maskPath = entry.mask
            var image: Image
            let mask: Image
            do {
                image = try ImageFile.read(entry.images[0])
                if entry.images.count > 1 {
                    // nnU-Net: one grey file per channel, stacked.
                    var planes = [image.converted(toChannels: 1)]
                    for path in entry.images.dropFirst() { planes.append(try ImageFile.read(path).converted(toChannels: 1)) }
                    if planes.contains(where: { $0.width != image.width || $0.height != image.height }) {
                        throw DatasetError.invalid("\(entry.images[0]): its channel files differ in size")
                    }
                    var samples = [Float](repeating: 0, count: image.width * image.height * planes.count)
                    for p in 0..<(image.width * image.height) { for c in 0..<planes.count { samples[p * planes.count + c] = planes[c].samples[p] } }
                    image = Image(width: image.width, height: image.height, channels: planes.count, bitDepth: image.bitDepth, samples: samples)
                }
                if let runs = entry.runs {
                    let ids = try DatasetIndex.decode(runs, width: image.width, height: image.height, source: root + "/train.csv (\(stem))")
                    mask = Image(width: image.width, height: image.height, channels: 1, samples: ids.map { Float($0) / 255 })
                } else {
                    mask = try ImageFile.read(maskPath)
                }
            } catch let error as DatasetError {
                throw error
            } catch {
                throw DatasetError.unreadable("\(error)")
            }
            if mask.width != image.width || mask.height != image.height {
                throw DatasetError.invalid("\(maskPath): mask is \(mask.width)x\(mask.height), its image is \(image.width)x\(image.height)")
            }
            if imageChannels == nil { imageChannels = image.channels }
            let converted = image.converted(toChannels: imageChannels!)
            let ids = mask.converted(toChannels: 1).samples.map { UInt8(max(0, min(255, ($0 * (mask.bitDepth == 16 ? 65535 : 255)).rounded()))) }
            for v in ids { values.insert(v) }
            maxValue = max(maxValue, ids.max() ?? 0)
            samples.append(Sample(name: stem, image: resizeImage(converted, height, width), mask: resizeMask(ids, mask.width, mask.height, height, width)))
            progress?(k + 1, index.cases.count)
        }
        // Class count: dataset.json, else binary when the masks hold two values, else max id + 1.
        var classCount = declared?.count ?? (values.count <= 2 ? 2 : Int(maxValue) + 1)
        let binary = classCount == 2
        if binary {
            for i in 0..<samples.count { samples[i].mask = samples[i].mask.map { $0 > 0 ? 1 : 0 } }
        } else {
            for s in samples { if let bad = s.mask.first(where: { Int($0) >= classCount }) {
                throw DatasetError.badClass(file: index.cases.first { $0.name == s.name }?.mask ?? s.name, value: Int(bad), classes: classCount)
            } }
        }
        classCount = max(classCount, 2)
        let names2 = declared ?? (0..<classCount).map { $0 == 0 ? "background" : "class\($0)" }
        return SegmentationDataset(samples: samples, channels: imageChannels!, modelClasses: binary ? 1 : classCount,
                                   classNames: binary ? [names2.last ?? "foreground"] : names2, height: height, width: width,
                                   name: (root as NSString).lastPathComponent)
    }

    /// A multi-label dataset: masks become label bits (bit c set where label c is), from one mask folder per label
    /// (`masks/LABEL/NAME.png`, nonzero: the label), a multi-channel mask (channel c nonzero: label c), or the RLE
    /// CSV's classes (UW-Madison: overlapping stomach and bowel masks). A UW-Madison file name's stated size
    /// must match its PNG.
    static func loadLabels(_ root: String, _ index: DatasetIndex, height: Int, width: Int, channels: Int?,
                           progress: ((Int, Int) -> Void)?) throws -> SegmentationDataset {
        var labelNames: [String] = []
        var samples: [Sample] = []
        var imageChannels = channels
        for (k, entry) in index.cases.enumerated() {
            let (image, bits, maskChannels) = try labelledCase(entry, root: root)
            if k == 0 { labelNames = multilabelNames(index, maskChannels: maskChannels) }
            if imageChannels == nil { imageChannels = image.channels }
            // A UW-Madison slice belongs to its scan ("caseN_dayM"), so --val cases:F holds out whole scans.
            let scan = DatasetIndex.scanName(entry.name)
            samples.append(Sample(name: entry.name, image: resizeImage(image.converted(toChannels: imageChannels!), height, width),
                                  mask: resizeMask(bits, image.width, image.height, height, width), group: scan))
            progress?(k + 1, index.cases.count)
        }
        if labelNames.isEmpty { throw DatasetError.invalid("\(root): no labels found for --multilabel") }
        if labelNames.count > 8 { throw DatasetError.invalid("\(root): \(labelNames.count) labels; multi-label models take up to 8") }
        // Named like a multi-class dataset's classes, "background" (no label) first: label c is id c + 1 everywhere.
        var data = SegmentationDataset(samples: samples, channels: imageChannels!, modelClasses: labelNames.count, classNames: ["background"] + labelNames,
                                       height: height, width: width, name: (root as NSString).lastPathComponent)
        data.multilabel = true
        return data
    }

    /// The label names of a multi-label dataset, without the "background" the CSV and dataset.json lists start with:
    /// the CSV's classes, the mask folders, or for masks with one channel per label `dataset.json`'s names when they
    /// match the channels, else label1, label2, ...
    public static func multilabelNames(_ index: DatasetIndex, maskChannels: Int?) -> [String] {
        let declared = (index.classNames ?? []).filter { $0 != "background" }
        guard let maskChannels else { return declared }
        return declared.count == maskChannels ? declared : (0..<maskChannels).map { "label\($0 + 1)" }
    }

    /// One case of a multi-label dataset at its own size: the image and its label bits (bit c: label c), from
    /// the RLE CSV, the mask folders per label, or a multi-channel mask (then `maskChannels` says how many labels
    /// it holds). A UW-Madison file name's stated size must match its PNG.
    public static func labelledCase(_ entry: DatasetIndex.Case, root: String) throws -> (image: Image, bits: [UInt8], maskChannels: Int?) {
        do {
            let image = try ImageFile.read(entry.images[0])
            if let named = entry.namedGeometry, named.width != image.width || named.height != image.height {
                throw DatasetError.invalid("\(entry.images[0]): the name says \(named.width)x\(named.height), the image is \(image.width)x\(image.height)")
            }
            let pixels = image.width * image.height
            func checkSize(_ mask: Image, _ file: String) throws {
                if mask.width != image.width || mask.height != image.height {
                    throw DatasetError.invalid("\(file): mask is \(mask.width)x\(mask.height), its image is \(image.width)x\(image.height)")
                }
            }
            var bits = [UInt8](repeating: 0, count: pixels)
            if let runs = entry.runs {
                bits = try DatasetIndex.decode(runs, width: image.width, height: image.height, source: root + "/train.csv (\(entry.name))",
                                               multilabel: true)
                return (image, bits, nil)
            }
            if let files = entry.labelMasks {
                for (c, file) in files.enumerated() {
                    guard let file else { continue }
                    let mask = try ImageFile.read(file)
                    try checkSize(mask, file)
                    let plane = mask.converted(toChannels: 1).samples
                    for p in 0..<pixels where plane[p] > 0 { bits[p] |= UInt8(1) << UInt8(c) }
                }
                return (image, bits, nil)
            }
            let mask = try ImageFile.read(entry.mask)
            try checkSize(mask, entry.mask)
            if mask.channels < 2 {
                throw DatasetError.invalid("\(entry.mask): one channel; --multilabel needs masks/LABEL/ folders, a mask with one channel per label, or train.csv")
            }
            for p in 0..<pixels {
                for c in 0..<mask.channels where mask.samples[p * mask.channels + c] > 0 { bits[p] |= UInt8(1) << UInt8(c) }
            }
            return (image, bits, mask.channels)
        } catch let error as DatasetError {
            throw error
        } catch {
            throw DatasetError.unreadable("\(error)")
        }
    }

    /// Planar pixels resized to h x w (bilinear, as the runtime resizes).
    static func resizeImage(_ image: Image, _ h: Int, _ w: Int) -> [Float] {
        let x = Tensor(shape: TensorShape(batch: 1, channels: image.channels, height: image.height, width: image.width), data: image.planar)
        return TensorOps.resize(x, height: h, width: w).data
    }

    /// A label map resized to h x w (nearest, as the runtime samples).
    static func resizeMask(_ ids: [UInt8], _ sw: Int, _ sh: Int, _ h: Int, _ w: Int) -> [UInt8] {
        if sw == w && sh == h { return ids }
        var out = [UInt8](repeating: 0, count: h * w)
        for y in 0..<h {
            let sy = F32Upsample.nearestSource(y, inSize: sh, outSize: h)
            for x in 0..<w { out[y * w + x] = ids[sy * sw + F32Upsample.nearestSource(x, inSize: sw, outSize: w)] }
        }
        return out
    }

    /// Per-channel mean and standard deviation of the images (for the model's input normalization).
    public func statistics(_ indices: [Int]) -> (mean: [Float], std: [Float]) {
        let hw = height * width
        var mean = [Float](repeating: 0, count: channels), std = mean
        for c in 0..<channels {
            var s = 0.0, s2 = 0.0
            for i in indices { for p in 0..<hw { let v = Double(samples[i].image[c * hw + p]); s += v; s2 += v * v } }
            let n = Double(indices.count * hw)
            mean[c] = Float(s / n)
            std[c] = Float(max(1e-6, (s2 / n - (s / n) * (s / n))).squareRoot())
        }
        return (mean, std)
    }
}

/// How samples are divided into training and validation.
public enum ValidationSplit: Equatable {
    /// A fraction from both ends of the name-sorted list (contiguous slices of a volume: no leakage
    /// between neighbouring slices).
    case ends(Double)
    /// `blocks` contiguous runs of the name-sorted list, spread evenly over it, holding `fraction` of the
    /// samples: validation covers every part of a volume, not only its ends. The sample on each side of
    /// a run is left out of training too, so no training slice neighbours a validation slice.
    case stripes(Double, blocks: Int)
    /// A random fraction, drawn with a seed.
    case random(Double, seed: UInt64)
    /// The named samples; for slices of volumes, names of cases hold out every slice of those cases.
    case names([String])
    /// Whole cases (the volumes slices came from): a fraction of them, evenly spaced in name order, every slice
    /// of a chosen case held out.
    case cases(Double)

    /// Parses "ends:0.2", "stripes:0.2:5", "random:0.2", "list:FILE".
    public static func parse(_ text: String, seed: UInt64) throws -> ValidationSplit {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("ends", 2): if let f = Double(parts[1]), f > 0, f < 1 { return .ends(f) }
        case ("random", 2): if let f = Double(parts[1]), f > 0, f < 1 { return .random(f, seed: seed) }
        case ("cases", 2): if let f = Double(parts[1]), f > 0, f < 1 { return .cases(f) }
        case ("stripes", 2):
            let fields = parts[1].split(separator: ":")
            if fields.count == 2, let f = Double(fields[0]), let k = Int(fields[1]), f > 0, f < 1, k >= 1 { return .stripes(f, blocks: k) }
        case ("list", 2):
            guard let text = try? String(contentsOfFile: parts[1], encoding: .utf8) else { throw DatasetError.invalid("\(parts[1]): cannot read the validation list") }
            return .names(text.split(whereSeparator: { $0 == "\n" || $0 == "," }).map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        default: break
        }
        throw DatasetError.invalid("--val takes ends:FRACTION, stripes:FRACTION:BLOCKS, random:FRACTION, cases:FRACTION, list:FILE or a dataset folder, got '\(text)'")
    }

    /// (training indices, validation indices) of `samples`.
    public func split(_ samples: [Sample]) throws -> (train: [Int], validation: [Int]) {
        if case .cases(let f) = self {
            let groups = Array(Set(samples.compactMap(\.group))).sorted()
            if groups.count < 2 { throw DatasetError.invalid("--val cases:F needs a dataset of two or more volumes (this one has \(groups.count)); use stripes:F:K for slices of one volume") }
            let k = max(1, min(groups.count - 1, Int((Double(groups.count) * f).rounded())))
            let held = Set((0..<k).map { groups[($0 * 2 + 1) * groups.count / (2 * k)] })
            let validation = samples.indices.filter { samples[$0].group.map(held.contains) ?? false }
            return (samples.indices.filter { !validation.contains($0) }, validation)
        }
        if case .names(let names) = self {
            // Case names (a volume dataset): every slice of a named case.
            let wanted = Set(names)
            let validation = samples.indices.filter { samples[$0].group.map(wanted.contains) ?? false }
            if !validation.isEmpty {
                let train = samples.indices.filter { !(samples[$0].group.map(wanted.contains) ?? false) }
                if train.isEmpty { throw DatasetError.invalid("the split leaves no training images") }
                return (train, validation)
            }
        }
        return try split(names: samples.map(\.name))
    }

    /// (training indices, validation indices) of samples with these names, in name order.
    public func split(names sampleNames: [String]) throws -> (train: [Int], validation: [Int]) {
        let n = sampleNames.count
        var validation: [Int]
        switch self {
        case .ends(let f):
            let k = max(1, Int((Double(n) * f / 2).rounded()))
            validation = Array(0..<min(k, n)) + Array(max(k, n - k)..<n)
        case .stripes(let f, let blocks):
            let total = max(blocks, Int((Double(n) * f).rounded())), length = max(1, total / blocks)
            validation = []
            for b in 0..<blocks {
                // Centre of the b-th of `blocks` equal parts of the list.
                let start = min(n - length, max(0, (2 * b + 1) * n / (2 * blocks) - length / 2))
                validation += Array(start..<(start + length))
            }
            validation = Array(Set(validation)).sorted()
        case .random(let f, let seed):
            var order = Array(0..<n)
            var rng = SeededGenerator(seed: seed ^ 0x5EED)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            validation = Array(order.prefix(max(1, Int(Double(n) * f)))).sorted()
        case .cases:
            throw DatasetError.invalid("--val cases:F splits volumes; these samples are images")
        case .names(let names):
            let wanted = Set(names)
            validation = sampleNames.indices.filter { wanted.contains(sampleNames[$0]) }
            if validation.isEmpty { throw DatasetError.invalid("none of the validation names is in the dataset") }
        }
        var excluded = Set(validation)
        if case .stripes = self {
            for v in validation { for u in [v - 1, v + 1] where u >= 0 && u < n { excluded.insert(u) } }
        }
        let train = (0..<n).filter { !excluded.contains($0) }
        if train.isEmpty { throw DatasetError.invalid("the split leaves no training images") }
        return (train, validation)
    }
}

extension SegmentationDataset {
    /// This dataset with the samples of `validation` (a separate folder, as ISIC's official split comes)
    /// appended, and the indices of the training and validation samples. The validation masks must use the
    /// training classes: for binary training any value above 0 is foreground; otherwise a class id at or above
    /// the training classes is an error that names the file.
    public func appendingValidation(_ validation: SegmentationDataset) throws -> (SegmentationDataset, train: [Int], validation: [Int]) {
        if validation.samples.isEmpty { throw DatasetError.empty(validation.name) }
        if validation.channels != channels {
            throw DatasetError.invalid("validation folder \(validation.name): \(validation.channels) channel(s), training has \(channels)")
        }
        if validation.multilabel != multilabel || (multilabel && validation.classNames != classNames) {
            throw DatasetError.invalid("validation folder \(validation.name): labels \(validation.classNames.dropFirst().joined(separator: ", ")), training has \(classNames.dropFirst().joined(separator: ", "))")
        }
        var out = self
        for var sample in validation.samples {
            if multilabel {
                // Label bits of the same labels: nothing to check.
            } else if modelClasses == 1 {
                sample.mask = sample.mask.map { $0 > 0 ? 1 : 0 }
            } else if let bad = sample.mask.first(where: { Int($0) >= modelClasses }) {
                throw DatasetError.badClass(file: "\(validation.name)/\(sample.name)", value: Int(bad), classes: modelClasses)
            }
            out.samples.append(sample)
        }
        return (out, Array(0..<samples.count), Array(samples.count..<out.samples.count))
    }

    /// 2.5D input: each sample's image becomes the stack of its `slices` neighbours in name order (the
    /// sample in the middle, clamped at the ends and at the ends of each volume of a volume dataset) as channels;
    /// masks stay those of the middle slice.
    /// Only for single-channel images (slices of one volume).
    public func stackingNeighbours(_ slices: Int) throws -> SegmentationDataset {
        if slices <= 1 { return self }
        if slices % 2 == 0 { throw DatasetError.invalid("--slices must be odd, got \(slices)") }
        if channels != 1 { throw DatasetError.invalid("2.5D input needs single-channel slices; \(name) has \(channels) channels") }
        let hw = height * width, half = slices / 2
        var out = self
        out.channels = slices
        for i in 0..<samples.count {
            var image = [Float](repeating: 0, count: slices * hw)
            for k in 0..<slices {
                // Clamped at the ends of the list, and of the slice's own volume (its group).
                var j = min(samples.count - 1, max(0, i + k - half))
                while samples[j].group != samples[i].group { j += j < i ? 1 : -1 }
                for p in 0..<hw { image[k * hw + p] = samples[j].image[p] }
            }
            out.samples[i].image = image
        }
        return out
    }
}
