import XCTest
import ImageIO
@testable import Volumes

/// Resampling against its definition: a linear ramp stays the same ramp in world coordinates (linear
/// interpolation is exact on it), voxel centres keep their world positions through the affine, labels go
/// nearest, a thick axis is never blended, and the plan picks nnU-Net's target spacing.
final class ResamplingTests: XCTestCase {
    func ramp(_ size: [Int], spacing: [Double]) -> Volume {
        var voxels = [Float](repeating: 0, count: size.reduce(1, *))
        for z in 0..<size[2] { for y in 0..<size[1] { for x in 0..<size[0] {
            // World position of the voxel centre: spacing * index; the value is a linear function of it.
            voxels[(z * size[1] + y) * size[0] + x] = Float(2 * spacing[0] * Double(x) - 0.5 * spacing[1] * Double(y) + 0.25 * spacing[2] * Double(z))
        } } }
        let affine = [[spacing[0], 0, 0, 3], [0, spacing[1], 0, -2], [0, 0, spacing[2], 1], [0, 0, 0, 1]]
        return Volume(size: size, channels: 1, voxels: voxels, spacing: spacing, affine: affine, units: "mm",
                      source: .nrrd(NRRDHeader(magic: "NRRD0004", fields: [])))
    }

    func testLinearRampStaysTheSameFunctionOfWorldPosition() {
        let v = ramp([9, 7, 5], spacing: [0.8, 1.2, 1.5])
        let r = VolumeResampling.resample(v, to: [1.0, 0.9, 1.0])
        XCTAssertEqual(r.size, [7, 9, 8])
        for z in 0..<r.size[2] { for y in 0..<r.size[1] { for x in 0..<r.size[0] {
            // The world position of the new voxel through the new affine, then the ramp's value there.
            let world = (0..<3).map { i in r.affine[i][0] * Double(x) + r.affine[i][1] * Double(y) + r.affine[i][2] * Double(z) + r.affine[i][3] }
            let index = [(world[0] - 3) / 0.8, (world[1] + 2) / 1.2, (world[2] - 1) / 1.5]
            // Inside the input grid (extrapolation clamps at the border, where the ramp does not continue).
            guard index.enumerated().allSatisfy({ $0.element >= 0 && $0.element <= Double(v.size[$0.offset] - 1) }) else { continue }
            let expected = 2 * 0.8 * index[0] - 0.5 * 1.2 * index[1] + 0.25 * 1.5 * index[2]
            XCTAssertEqual(Double(r.voxels[(z * r.size[1] + y) * r.size[0] + x]), expected, accuracy: 1e-4, "\(x) \(y) \(z)")
        } } }
        XCTAssertEqual(r.spacing[0], 0.8 * 9 / 7, accuracy: 1e-12)
    }

    func testLabelsGoNearestAndThickAxesAreNotBlended() {
        let labels: [UInt8] = (0..<24).map { UInt8($0 % 3) }
        let up = VolumeResampling.resampleLabels(labels, from: [4, 3, 2], to: [8, 6, 4])
        XCTAssertEqual(Set(up), Set(labels))
        XCTAssertEqual(up[0], labels[0])
        XCTAssertEqual(VolumeResampling.resampleLabels(up, from: [8, 6, 4], to: [4, 3, 2]), labels)
        // z at 5 mm against 0.7 mm in plane: resampled nearest along z, so every output slice is an input slice.
        var v = ramp([6, 6, 4], spacing: [0.7, 0.7, 5])
        v.voxels = v.voxels.indices.map { Float($0 / 36) }  // the slice index
        let r = VolumeResampling.resample(v, to: [0.7, 0.7, 2.5])
        XCTAssertEqual(r.size, [6, 6, 8])
        XCTAssertTrue(r.voxels.allSatisfy { $0 == $0.rounded() }, "no blending across slices")
    }

    func testPlanPicksTheMedianAndTheTenthPercentileOnAnisotropicData() {
        let iso = VolumePlan(spacings: [[1, 1, 1], [0.8, 0.8, 1.2], [1.2, 1.2, 0.8]], sizes: [[10, 10, 10], [10, 10, 10], [10, 10, 10]])
        XCTAssertEqual(iso.target, [1, 1, 1])
        let thick = VolumePlan(spacings: [[0.7, 0.7, 5], [0.8, 0.8, 3.5], [0.75, 0.75, 4], [0.7, 0.7, 2.5], [0.9, 0.9, 5]],
                               sizes: Array(repeating: [512, 512, 60], count: 5))
        XCTAssertEqual(thick.target[0], 0.75)
        XCTAssertEqual(thick.target[2], 2.5, "the 10th percentile of the thick axis")
        XCTAssertEqual(thick.axis, .z)
        XCTAssertEqual(thick.resampledSizes[0], [478, 478, 120])
    }
}
