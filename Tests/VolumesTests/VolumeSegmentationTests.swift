import XCTest
import Foundation
import Engine
import ImageIO
@testable import Volumes

final class VolumeSegmentationTests: XCTestCase {
    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data").standardized.path

    func volume(_ size: [Int], spacing: [Double] = [1, 1, 1]) -> Volume {
        let n = size.reduce(1, *)
        let header = NRRDHeader(magic: "NRRD0004", fields: [])
        return Volume(size: size, channels: 1, voxels: (0..<n).map { Float($0) }, spacing: spacing,
                      affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], units: "mm", source: .nrrd(header))
    }

    /// Slices are laid out as documented (first in-plane axis along the columns, second up the rows) and
    /// placing every slice back rebuilds the volume, along each axis, on an odd anisotropic grid.
    func testSlicesRoundTripAlongEveryAxis() {
        let v = volume([5, 4, 3])
        // Axial slice z = 1: pixel (row 0, column 2) is x = 2, y = 3 (the top row is the last y).
        XCTAssertEqual(v.slice(1, along: .z)[2], Float((1 * 4 + 3) * 5 + 2))
        // Sagittal slice x = 4: columns are y, rows are z from the top: (row 0, column 1) is y = 1, z = 2.
        XCTAssertEqual(v.slice(4, along: .x)[1], Float((2 * 4 + 1) * 5 + 4))
        for axis in SliceAxis.allCases {
            var labels = LabelVolume(size: v.size)
            for s in 0..<axis.count(v.size) { labels.place(v.slice(s, along: axis).map { UInt8($0) }, at: s, along: axis) }
            XCTAssertEqual(labels.labels, v.voxels.map { UInt8($0) }, "\(axis)")
        }
        XCTAssertEqual(SliceAxis.coarsest([0.8, 0.8, 3]), .z)
        XCTAssertEqual(SliceAxis.coarsest([3, 0.8, 0.8]), .x)
    }

    /// The standard window reproduces ../shared/data's PNG slices of the same MRI pixel for pixel.
    func testWindowReproducesTheSharedSlices() throws {
        let mri = try NIfTI.read(shared + "/nifti/ch2.nii.gz")
        let windowed = IntensityWindow.standard.apply(mri)
        let png = try ImageFile.read(shared + "/brain-mask/images/colin27_z084.png")
        let slice = windowed.slice(84, along: .z)
        XCTAssertEqual(png.width, 181)
        XCTAssertEqual(slice.count, png.samples.count)
        var worst: Float = 0
        for i in 0..<slice.count { worst = max(worst, abs(slice[i] - png.samples[i])) }
        XCTAssertLessThan(worst, 1e-6)
    }
}

extension VolumeSegmentationTests {
    /// A volume's labels are the model's labels of each windowed slice, placed back where the slice came from.
    func testLabelsAreThoseOfEachSlice() throws {
        var config = try ArchitecturePreset.named("unet-xs").config
        config.classes = 3
        let model = try Model(config: config)
        let segmenter = try Segmenter(model, threads: 1)
        var v = volume([24, 16, 5], spacing: [0.9, 0.9, 2.5])
        for i in 0..<v.voxels.count { v.voxels[i] = Float((i * 37) % 101) }
        let run = VolumeSegmentation(segmenter: segmenter, batch: 4)
        var calls = 0
        let labels = try run.labels(v) { done, total in calls += 1; XCTAssertEqual(total, 5) }
        XCTAssertEqual(calls, 2)  // batches of 4 slices
        let windowed = IntensityWindow.standard.apply(v)
        for s in 0..<5 {
            let x = Tensor(shape: TensorShape(batch: 1, channels: 1, height: 16, width: 24), data: windowed.slice(s, along: .z))
            let expected = segmenter.labels(try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions()))
            XCTAssertEqual(labels.slice(s, along: .z), expected, "slice \(s)")
        }
    }
}

extension VolumeSegmentationTests {
    /// A model trained on volumes runs at its recorded spacing and axis: the input is resampled to it, segmented,
    /// and the labels come back on the input's grid (nearest), equal to doing those steps by hand.
    func testRecordedSpacingAndAxisAreFollowed() throws {
        var config = try ArchitecturePreset.named("unet-xs").config
        config.classes = 2
        var model = try Model(config: config)
        model.metadata[MetadataKey.inputVolumeSpacing] = .floats([1, 2, 1])
        model.metadata[MetadataKey.inputVolumeAxis] = .string("y")
        model.metadata[MetadataKey.inputVolumeIntensity] = .string("zscore")
        let segmenter = try Segmenter(model, threads: 1)
        var v = volume([16, 12, 8], spacing: [1, 1, 1])
        for i in 0..<v.voxels.count { v.voxels[i] = Float((i * 29) % 53) }
        let labels = try VolumeSegmentation(segmenter: segmenter).labels(v)
        XCTAssertEqual(labels.size, [16, 12, 8])
        let resampled = VolumeResampling.resample(IntensityWindow.zscore.apply(v), to: [1, 2, 1])
        XCTAssertEqual(resampled.size, [16, 6, 8])
        var byHand = LabelVolume(size: resampled.size)
        for s in 0..<6 {
            let x = Tensor(shape: TensorShape(batch: 1, channels: 1, height: 8, width: 16), data: resampled.slice(s, along: .y))
            byHand.place(segmenter.labels(try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions())), at: s, along: .y)
        }
        XCTAssertEqual(labels.labels, VolumeResampling.resampleLabels(byHand.labels, from: [16, 6, 8], to: [16, 12, 8]))
    }
}
