import XCTest
import Foundation
import Engine
import ImageIO
@testable import Volumes

/// Streaming a volume slice by slice gives the bits of holding it whole: the exact percentiles, the windowed
/// and resampled slices, and the labels of a whole prediction.
final class StreamingTests: XCTestCase {
    var temporary: String!

    override func setUp() {
        temporary = NSTemporaryDirectory() + "segrun-streaming-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: temporary) }

    /// Percentiles from the two histogram passes equal those of sorting (bits), on values with many ties,
    /// negative values, a wide range, and one or two values only.
    func testHistogramPercentilesAreExact() {
        var rng = SystemRandomNumberGenerator()
        let sets: [[Float]] = [
            (0..<5000).map { _ in Float(Int.random(in: -1024...3000, using: &rng)) },  // CT-like integers
            (0..<3001).map { _ in Float.random(in: -5...5, using: &rng) * pow(10, Float.random(in: -3...3, using: &rng)) },
            (0..<777).map { _ in Float(Int.random(in: 0...3, using: &rng)) },  // mostly ties
            [42], [3, -7],
        ]
        for values in sets {
            let sorted = values.sorted()
            for (low, high) in [(0.5, 99.5), (0.0, 100.0), (10.0, 90.0), (33.3, 66.7)] {
                let statistics = IntensityStatistics(values, for: .percentile(low: low, high: high))
                for p in [low, high] {
                    XCTAssertEqual(statistics.percentile(p).bitPattern, IntensityWindow.percentile(sorted, p).bitPattern,
                                   "p\(p) of \(values.count) values")
                }
            }
        }
    }

    /// A NRRD of float32 voxels written by hand: channels planar (a last "list" axis) or interleaved (first).
    func writeNRRD(_ voxels: [Float], size: [Int], channels: Int, interleaved: Bool, spacing: [Double], name: String) -> String {
        let n = size.reduce(1, *)
        var fileOrder = voxels
        if interleaved { for v in 0..<n { for c in 0..<channels { fileOrder[v * channels + c] = voxels[c * n + v] } } }
        let sizes = channels == 1 ? size : interleaved ? [channels] + size : size + [channels]
        let kinds = channels == 1 ? ["domain", "domain", "domain"] : interleaved ? ["vector", "domain", "domain", "domain"] : ["domain", "domain", "domain", "list"]
        let columns = (0..<3).map { a in "(" + (0..<3).map { $0 == a ? "\(spacing[a])" : "0" }.joined(separator: ",") + ")" }
        let directions = channels == 1 ? columns : interleaved ? ["none"] + columns : columns + ["none"]
        let header = "NRRD0004\ntype: float\ndimension: \(sizes.count)\nsizes: \(sizes.map(String.init).joined(separator: " "))\n"
            + "kinds: \(kinds.joined(separator: " "))\nspace: left-posterior-superior\nspace directions: \(directions.joined(separator: " "))\n"
            + "space origin: (1,2,3)\nendian: little\nencoding: raw\n\n"
        var bytes = Array(header.utf8)
        for v in fileOrder { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let path = temporary + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func randomVoxels(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { i in Float((i &* 7919 &+ seed &* 104729) % 2003) - 500 + Float(i % 7) * 0.25 }
    }

    /// Windowed and resampled slices made while streaming equal `IntensityWindow.apply` then
    /// `VolumeResampling.resample` on the whole volume, bit for bit: every window, linear and nearest (a coarse
    /// axis) resampling along every axis, one channel and two (planar and interleaved).
    func testStreamedSlicesMatchTheWholeVolume() throws {
        let size = [13, 9, 7], spacing = [0.9, 0.7, 2.5]
        let cases: [(windows: [IntensityWindow], target: [Double]?, channels: Int, interleaved: Bool, cubic: Bool)] = [
            ([.standard], nil, 1, false, false),
            ([.zscore], [1.1, 0.8, 2.0], 1, false, false),
            ([.ct(low: -200, high: 900, mean: 100, std: 300)], [0.5, 0.5, 3.0], 1, false, false),
            ([.standard, .zscore], [0.6, 0.6, 1.7], 2, false, false),
            ([.zscore, .standard], [1.0, 1.0, 5.0], 2, true, false),
            ([.zscore], [1.1, 0.8, 1.3], 1, false, true),
            ([.standard], [0.5, 0.5, 3.0], 1, false, true),
        ]
        for (k, c) in cases.enumerated() {
            let voxels = randomVoxels(size.reduce(1, *) * c.channels, seed: k)
            let path = writeNRRD(voxels, size: size, channels: c.channels, interleaved: c.interleaved, spacing: spacing, name: "case\(k).nrrd")
            let whole = try VolumeFile.read(path)
            XCTAssertEqual(whole.voxels, voxels, "case \(k): the file holds the voxels")
            var expected = IntensityWindow.apply(c.windows, to: whole)
            let interpolation: ImageInterpolation = c.cubic ? .cubic : .linear
            if let target = c.target { expected = VolumeResampling.resample(expected, to: target, interpolation: interpolation) }
            let streamed = try StreamedSlices(try VolumeFile.open(path), windows: c.windows, target: c.target, interpolation: interpolation, keep: 2)
            XCTAssertEqual(streamed.size, expected.size, "case \(k)")
            let n = expected.size[0] * expected.size[1]
            for z in 0..<expected.size[2] {
                let planes = try streamed.planes(z)
                for ch in 0..<c.channels {
                    let want = expected.voxels[(ch * expected.voxelCount + z * n)..<(ch * expected.voxelCount + (z + 1) * n)]
                    XCTAssertEqual(planes[(ch * n)..<((ch + 1) * n)].map(\.bitPattern), want.map(\.bitPattern), "case \(k) z\(z) c\(ch)")
                }
                // Image rows: the same planes with y flipped.
                XCTAssertEqual(try streamed.image(z)[0..<expected.size[0]].map(\.bitPattern),
                               expected.slice(z, along: .z)[0..<expected.size[0]].map(\.bitPattern), "case \(k) z\(z) image")
            }
        }
    }

    /// An untrained binary model whose threshold is its median probability on a random input, so its masks
    /// are neither empty nor full (`low` to `low + 1`: the range of its inputs).
    func thresholdedAtTheMedian(_ config: ArchitectureConfig, low: Float = 0) throws -> Model {
        var model = try Model(config: config)
        let x = Tensor(shape: TensorShape(batch: 1, channels: config.inChannels, height: 14, width: 20),
                       data: (0..<(config.inChannels * 280)).map { Float(($0 * 37) % 19) / 18 + low })
        let p = try Segmenter(model, threads: 1).probabilities(x).data.sorted()
        model.metadata[MetadataKey.threshold] = .float(Double(p[p.count / 2]))
        return model
    }

    /// A whole prediction streamed from the file equals one on the volume held whole: a 2.5D model with a
    /// recorded spacing (and one resampling cubic, with labels mapped back linearly on one-hot), a two-channel
    /// model, batches of 1 and 3, and an x axis (read whole).
    func testStreamedLabelsMatchTheWholeVolume() throws {
        let size = [20, 14, 9], spacing = [0.9, 0.7, 2.5]
        var slabModel = try thresholdedAtTheMedian(ArchitectureConfig(architecture: .unet, inChannels: 3, classes: 1, baseWidth: 4, depth: 2), low: -0.5)
        slabModel.metadata[MetadataKey.inputSlices] = .int(3)
        slabModel.metadata[MetadataKey.inputVolumeSpacing] = .floats([1.0, 0.8, 2.0])
        slabModel.metadata[MetadataKey.inputVolumeIntensity] = .string("zscore")
        let twoChannels = try thresholdedAtTheMedian(ArchitectureConfig(architecture: .unet, inChannels: 2, classes: 1, baseWidth: 4, depth: 2))
        var smooth = slabModel
        smooth.metadata[MetadataKey.inputVolumeInterpolation] = .string("cubic")
        smooth.metadata[MetadataKey.inputVolumeLabelInterpolation] = .string("linear")
        for (k, (model, channels, axis)) in [(slabModel, 1, SliceAxis?.none), (twoChannels, 2, nil), (twoChannels, 2, .x), (smooth, 1, nil)].enumerated() {
            let voxels = randomVoxels(size.reduce(1, *) * channels, seed: 10 + k)
            let path = writeNRRD(voxels, size: size, channels: channels, interleaved: false, spacing: spacing, name: "labels\(k).nrrd")
            let segmenter = try Segmenter(model, threads: 1)
            for batch in [1, 3] {
                let run = VolumeSegmentation(segmenter: segmenter, axis: axis, batch: batch)
                var wholeProbabilities: [[Float]] = [], streamedProbabilities: [[Float]] = []
                let whole = try run.labels(try VolumeFile.read(path), probabilities: { z, p in
                    XCTAssertEqual(z, wholeProbabilities.count)
                    wholeProbabilities.append(p)
                })
                var last = 0
                let streamed = try run.labels(try VolumeFile.open(path), probabilities: { _, p in streamedProbabilities.append(p) }) { done, _ in
                    XCTAssertGreaterThan(done, last)
                    last = done
                }
                XCTAssertEqual(streamed.size, size)
                XCTAssertEqual(streamed.labels, whole.labels, "case \(k), batch \(batch)")
                XCTAssertEqual(wholeProbabilities.count, size[2])
                XCTAssertEqual(streamedProbabilities.map { $0.map(\.bitPattern) }, wholeProbabilities.map { $0.map(\.bitPattern) }, "case \(k), batch \(batch)")
                // The probabilities are those the labels came from: thresholded, they give the mask (nearest labels).
                if model.metadata.string(MetadataKey.inputVolumeLabelInterpolation) == nil && k != 0 {
                    let threshold = Float(model.threshold)
                    XCTAssertEqual(wholeProbabilities.flatMap { $0 }.map { $0 >= threshold ? UInt8(1) : 0 }, whole.labels, "case \(k)")
                }
                XCTAssertGreaterThan(Set(whole.labels).count, 1, "case \(k): more than one label, so the comparison means something")
            }
        }
    }

    /// segrun-edge and the C API segment a volume held whole through `VolumeModelInput.labels3D`; `segrun predict`
    /// streams the file through `VolumeSegmentation`. For a 3D model with a recorded spacing (resampled both ways),
    /// intensity window and orientation (the file turned to it and back), all give the same labels; so does the raw
    /// path (`labels3D(onModelGrid:)`) on a volume already on the model's grid.
    func testTheEdgePathGivesPredictsLabelsOnVolumes() throws {
        let size = [21, 17, 11], spacing = [0.9, 0.8, 2.0]
        var model = try Model(config: ArchitectureConfig(architecture: .unet, classes: 1, baseWidth: 4, depth: 2, rank: 3, seed: 11))
        model.metadata[MetadataKey.inputVolumeSpacing] = .floats([1.2, 1.0, 1.6])
        model.metadata[MetadataKey.inputVolumeIntensity] = .string("zscore")
        model.metadata[MetadataKey.inputPatch] = .floats([8, 16, 16])
        let voxels = randomVoxels(size.reduce(1, *), seed: 41)
        let path = writeNRRD(voxels, size: size, channels: 1, interleaved: false, spacing: spacing, name: "edge.nrrd")
        // Untrained: thresholded at its median probability on this volume, so the labels are neither empty nor full.
        let grid = VolumeModelInput(model).modelGrid(try VolumeFile.read(path))
        let p = try VolumeSegmentation(segmenter: try Segmenter(model, threads: 1)).volumeProbabilities(grid) { _, _ in }.data.sorted()
        model.metadata[MetadataKey.threshold] = .float(Double(p[p.count / 2]))
        for orientation in [nil, "PSR"] {
            var m = model
            if let orientation { m.metadata[MetadataKey.inputVolumeOrientation] = .string(orientation) }
            let segmenter = try Segmenter(m, threads: 2)
            let run = VolumeSegmentation(segmenter: segmenter)
            let volume = try VolumeFile.read(path)
            XCTAssertEqual(run.reorientation(volume.affine) != nil, orientation != nil)
            let streamed = try run.labels(try VolumeFile.open(path))
            let whole = try run.labels(volume)
            let edge = try VolumeModelInput(m).labels3D(volume, segmenter: segmenter, options: InferenceOptions())
            XCTAssertEqual(whole.labels, streamed.labels, "orientation \(orientation ?? "as stored")")
            XCTAssertEqual(edge, whole.labels, "orientation \(orientation ?? "as stored")")
            XCTAssertGreaterThan(Set(edge).count, 1, "more than one label, so the comparison means something")
        }
        // On the model's grid already: the raw path equals predict on a volume stored at the model's spacing.
        var onGrid = model
        onGrid.metadata[MetadataKey.inputVolumeSpacing] = .floats(spacing.map { Float($0) })
        let segmenter = try Segmenter(onGrid, threads: 1)
        let expected = try VolumeSegmentation(segmenter: segmenter).labels(try VolumeFile.read(path))
        let raw = try VolumeModelInput(onGrid).labels3D(onModelGrid: try VolumeFile.read(path).voxels, size: size, channels: 1,
                                                        segmenter: segmenter, options: InferenceOptions())
        XCTAssertEqual(raw, expected.labels)
    }

    /// A volume with more channels than a 3D model takes is refused with one error naming the input node, before
    /// any slice is read, resampled or run (`segrun predict` and `eval` then name the file), held whole or streamed.
    func testA3DModelRefusesAVolumeOfOtherChannelsBeforeRunning() throws {
        let size = [9, 8, 5]
        let model = try Model(config: ArchitectureConfig(architecture: .unet, classes: 1, baseWidth: 4, depth: 2, rank: 3, seed: 11))
        let path = writeNRRD(randomVoxels(2 * size.reduce(1, *), seed: 43), size: size, channels: 2, interleaved: false,
                             spacing: [1, 1, 1], name: "two-channels.nrrd")
        let run = VolumeSegmentation(segmenter: try Segmenter(model, threads: 1))
        let expected = "node '\(model.graph.nodes[model.graph.inputNodes[0]].name)': the volume has 2 channel(s), the model takes 1"
        var progressed = false
        XCTAssertThrowsError(try run.labels(try VolumeFile.open(path)) { _, _ in progressed = true }) {
            XCTAssertEqual("\($0)", expected)
        }
        XCTAssertThrowsError(try run.labels(try VolumeFile.read(path)) { _, _ in progressed = true }) {
            XCTAssertEqual("\($0)", expected)
        }
        XCTAssertFalse(progressed, "refused before any window ran")
    }
}
