import Foundation
import Engine
import ImageIO
import Volumes

/// A volume dataset as a 3D model trains on it: every case normalized, turned and resampled to the plan's
/// spacing (`PreparedVolumes`) and held in memory (preloaded once, so an epoch never rereads gzip), its labels
/// beside it, split into the blocks patches are drawn from and the blocks validation segments whole.
///
/// Axes: a case's voxels are x fastest, then y, then z (the file's order); a patch tensor is N x C x D x H x W
/// with D = z, H = y, W = x, so both are the same memory order.
public struct VolumePatchData {
    public struct Case {
        public var name: String
        /// x, y, z.
        public var size: [Int]
        public var channels: Int
        /// Channel-planar normalized intensities.
        public var image: [Float]
        public var labels: [UInt8]
    }

    /// A z range of one case: training draws patches inside it, validation segments it whole.
    public struct Block: Equatable {
        public var caseIndex: Int
        public var z: Range<Int>
    }

    /// How validation is held out.
    public enum Split: Equatable {
        /// This fraction of the cases (at least one), spread over the sorted names.
        case cases(Double)
        /// The z slices from `from` to `to` (fractions of each case's depth) of every case: patches come from the
        /// slices outside it and never overlap it.
        case slab(from: Double, to: Double)

        /// `cases:F` or `slab:A:B`.
        public static func parse(_ text: String) throws -> Split {
            let parts = text.split(separator: ":").map(String.init)
            if parts.count == 2 && parts[0] == "cases", let f = Double(parts[1]), f > 0 && f < 1 { return .cases(f) }
            if parts.count == 3 && parts[0] == "slab", let a = Double(parts[1]), let b = Double(parts[2]), 0 <= a && a < b && b <= 1 {
                return .slab(from: a, to: b)
            }
            throw DatasetError.invalid("--val for 3D training is cases:F (0 < F < 1: hold out that fraction of the cases) or slab:A:B (0 <= A < B <= 1: hold out those z slices of every case), got '\(text)'")
        }

        public var description: String {
            switch self {
            case .cases(let f): return "cases:\(f)"
            case .slab(let a, let b): return "slab:\(a):\(b)"
            }
        }
    }

    public var name: String
    public var cases: [Case]
    public var channels: Int
    /// 1 for binary data (labels 0/1), else the class count.
    public var modelClasses: Int
    public var classNames: [String]
    public var plan: VolumePlan
    public var windows: [IntensityWindow]
    public var training: [Block] = []
    public var validation: [Block] = []

    /// Loads every case of `root` (`VolumeDataset`'s layouts); `progress(done, total)` after each.
    public static func load(_ root: String, interpolation: (ImageInterpolation, LabelInterpolation) = (.linear, .nearest),
                            progress: ((Int, Int) -> Void)? = nil) throws -> VolumePatchData {
        let prepared = try PreparedVolumes(root, interpolation: interpolation)
        var cases: [Case] = []
        var values = Set<UInt8>()
        for k in prepared.cases.indices {
            let (image, labels) = try prepared.load(k)
            if let first = cases.first, first.channels != image.channels {
                throw DatasetError.invalid("\(prepared.cases[k].images[0]): \(image.channels) channel(s), the first case has \(first.channels)")
            }
            for v in labels.labels { values.insert(v) }
            cases.append(Case(name: prepared.cases[k].name, size: image.size, channels: image.channels,
                              image: Array(image.voxels.prefix(image.voxelCount * image.channels)), labels: labels.labels))
            progress?(k + 1, prepared.cases.count)
        }
        let declared = try SegmentationDataset.labelNames(root)
        let classCount = declared?.count ?? (values.count <= 2 ? 2 : Int(values.max() ?? 1) + 1)
        let binary = classCount == 2
        if binary { for i in cases.indices { cases[i].labels = cases[i].labels.map { $0 > 0 ? 1 : 0 } } }
        else if let bad = values.first(where: { Int($0) >= classCount }) {
            throw DatasetError.badClass(file: root + "/labelsTr", value: Int(bad), classes: classCount)
        }
        let names = declared ?? (binary ? ["background", "foreground"] : (0..<classCount).map { $0 == 0 ? "background" : "class\($0)" })
        return VolumePatchData(name: (root as NSString).lastPathComponent, cases: cases, channels: cases[0].channels,
                               modelClasses: binary ? 1 : classCount, classNames: binary ? [names.last ?? "foreground"] : names,
                               plan: prepared.plan, windows: prepared.windows)
    }

    /// Splits the cases into training and validation blocks (`heldOut`).
    public mutating func split(_ split: Split) throws {
        training = []
        validation = []
        let held = try VolumePatchData.heldOut(split, depths: cases.map { $0.size[2] })
        for (k, c) in cases.enumerated() {
            guard let z = held[k] else { training.append(Block(caseIndex: k, z: 0..<c.size[2])); continue }
            validation.append(Block(caseIndex: k, z: z))
            if z.lowerBound > 0 { training.append(Block(caseIndex: k, z: 0..<z.lowerBound)) }
            if z.upperBound < c.size[2] { training.append(Block(caseIndex: k, z: z.upperBound..<c.size[2])) }
        }
        if training.isEmpty { throw DatasetError.invalid("no training voxels are left outside the validation \(split.description)") }
    }

    /// The z range each case holds out (nil: none), for cases of these depths at the planned spacing, in name
    /// order. `segrun eval --val train` maps the same ranges back to the original slices.
    public static func heldOut(_ split: Split, depths: [Int]) throws -> [Range<Int>?] {
        switch split {
        case .cases(let fraction):
            if depths.count < 2 { throw DatasetError.invalid("--val cases:F needs at least 2 cases, this dataset has \(depths.count); hold out a slab instead (--val slab:0.35:0.65)") }
            let held = max(1, min(depths.count - 1, Int((Double(depths.count) * fraction).rounded())))
            // Spread over the sorted names: every (count / held)-th case.
            let chosen = Set((0..<held).map { $0 * depths.count / held })
            return depths.indices.map { chosen.contains($0) ? 0..<depths[$0] : nil }
        case .slab(let from, let to):
            return depths.map { depth in
                let a = min(depth - 1, Int((Double(depth) * from).rounded())), b = max(a + 1, Int((Double(depth) * to).rounded()))
                return a..<min(depth, b)
            }
        }
    }

    /// Mean and standard deviation of each channel over the training blocks (Float64 sums).
    public func statistics() -> (mean: [Float], std: [Float]) {
        var mean: [Float] = [], std: [Float] = []
        for ch in 0..<channels {
            var sum = 0.0, squares = 0.0, count = 0.0
            for block in training {
                let c = cases[block.caseIndex], plane = c.size[0] * c.size[1], base = ch * plane * c.size[2]
                for v in (base + block.z.lowerBound * plane)..<(base + block.z.upperBound * plane) {
                    let x = Double(c.image[v])
                    sum += x
                    squares += x * x
                }
                count += Double(block.z.count * plane)
            }
            let m = sum / max(1, count)
            mean.append(Float(m))
            std.append(Float(max(1e-6, (squares / max(1, count) - m * m).squareRoot())))
        }
        return (mean, std)
    }

    /// The fraction of the training blocks' voxels in each class (`PriorHeadBias` starts the head there).
    public func classFrequencies(classes: Int) -> [Double] {
        var counts = [Double](repeating: 0, count: classes)
        for block in training {
            let c = cases[block.caseIndex], plane = c.size[0] * c.size[1]
            for v in (block.z.lowerBound * plane)..<(block.z.upperBound * plane) where Int(c.labels[v]) < classes { counts[Int(c.labels[v])] += 1 }
        }
        let total = max(1, counts.reduce(0, +))
        return counts.map { $0 / total }
    }

    /// The foreground voxels (label > 0) of a block, as (x, y, z), at most `limit` of them evenly spaced in
    /// memory order (what foreground-centred patches are drawn around).
    public func foreground(_ block: Block, limit: Int = 200_000) -> [SIMD3<Int32>] {
        let c = cases[block.caseIndex], plane = c.size[0] * c.size[1]
        var all: [Int] = []
        for v in (block.z.lowerBound * plane)..<(block.z.upperBound * plane) where c.labels[v] > 0 { all.append(v) }
        let step = max(1, all.count / limit)
        return stride(from: 0, to: all.count, by: step).map { i in
            let v = all[i]
            return SIMD3(Int32(v % c.size[0]), Int32(v / c.size[0] % c.size[1]), Int32(v / plane))
        }
    }
}
