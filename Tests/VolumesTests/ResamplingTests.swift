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

    /// Keys' cubic convolution (a = -0.5) in plain Float64, straight from its definition.
    static func cubicReference(_ data: [Double], size: [Int], to out: [Int]) -> [Double] {
        func w(_ d: Double) -> Double {
            let x = abs(d), a = -0.5
            if x <= 1 { return (a + 2) * x * x * x - (a + 3) * x * x + 1 }
            if x < 2 { return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a }
            return 0
        }
        var current = data, shape = size
        for axis in 0..<3 where out[axis] != shape[axis] {
            let n = shape[axis], m = out[axis]
            var next = shape
            next[axis] = m
            var result = [Double](repeating: 0, count: next.reduce(1, *))
            for z in 0..<next[2] { for y in 0..<next[1] { for x in 0..<next[0] {
                let o = [x, y, z][axis]
                let c = min(Double(n - 1), max(0, (Double(o) + 0.5) * Double(n) / Double(m) - 0.5))
                let base = Int(c.rounded(.down))
                var v = 0.0
                for k in (base - 1)...(base + 2) {
                    var p = [x, y, z]
                    p[axis] = min(n - 1, max(0, k))
                    v += w(c - Double(k)) * current[(p[2] * shape[1] + p[1]) * shape[0] + p[0]]
                }
                result[(z * next[1] + y) * next[0] + x] = v
            } } }
            current = result
            shape = next
        }
        return current
    }

    /// Cubic resampling against its Float64 twin on random data, up and down, odd sizes (tolerance 1e-5 of the
    /// data's range), and exact at the samples when a size does not change.
    func testCubicMatchesItsFloat64Reference() {
        var rng = SystemRandomNumberGenerator()
        for (size, target) in [([9, 7, 5], [1.0, 0.9, 1.0]), ([5, 11, 3], [0.5, 1.4, 0.7]), ([6, 6, 6], [1.0, 0.6, 1.0])] {
            var v = ramp(size, spacing: [0.8, 1.2, 1.5])
            v.voxels = v.voxels.map { _ in Float.random(in: -3...5, using: &rng) }
            let r = VolumeResampling.resample(v, to: target, interpolation: .cubic)
            let expected = ResamplingTests.cubicReference(v.voxels.map(Double.init), size: size, to: r.size)
            for i in 0..<expected.count { XCTAssertEqual(Double(r.voxels[i]), expected[i], accuracy: 8e-5, "\(size) -> \(r.size) at \(i)") }
        }
        var v = ramp([7, 5, 4], spacing: [1, 1, 1])
        v.voxels = v.voxels.indices.map { Float(($0 * 13) % 17) }
        XCTAssertEqual(VolumeResampling.resample(v, to: [1, 1, 1], interpolation: .cubic).voxels, v.voxels)
    }

    /// Linear-on-one-hot labels against a Float64 twin (each label's indicator interpolated, then the first
    /// largest), up and down, with a coarse axis taken nearest; sizes whose ratios leave no exact ties.
    func testLinearLabelsMatchOneHotInterpolation() {
        let cases: [([Int], [Int], [Bool])] = [([7, 9, 5], [11, 13, 8], [false, false, false]), ([13, 6, 9], [5, 10, 4], [false, false, true])]
        for (from, to, nearestAxes) in cases {
            var labels: [UInt8] = []
            for i in 0..<(from[0] * from[1] * from[2]) { labels.append(UInt8((7 * i + i / 5) % 4)) }
            let got = VolumeResampling.resampleLabels(labels, from: from, to: to, interpolation: .linear, nearestAxes: nearestAxes)
            let taps = (0..<3).map { VolumeResampling.taps(from[$0], to[$0], nearest: nearestAxes[$0]) }
            var mismatches = 0
            for z in 0..<to[2] { for y in 0..<to[1] { for x in 0..<to[0] {
                var score = [Double](repeating: 0, count: 4)
                func pairs(_ t: (Int, Int, Float)) -> [(Int, Double)] { [(t.0, 1 - Double(t.2)), (t.1, Double(t.2))] }
                for (zi, fz) in pairs(taps[2][z]) {
                    for (yi, fy) in pairs(taps[1][y]) {
                        for (xi, fx) in pairs(taps[0][x]) {
                            score[Int(labels[(zi * from[1] + yi) * from[0] + xi])] += fz * fy * fx
                        }
                    }
                }
                let best = score.indices.max { score[$0] < score[$1] || (score[$0] == score[$1] && $0 > $1) }!
                if got[(z * to[1] + y) * to[0] + x] != UInt8(best) { mismatches += 1 }
            } } }
            XCTAssertEqual(mismatches, 0, "\(from) -> \(to)")
            XCTAssertEqual(Set(got), Set(labels))
        }
        // Nearest and linear agree on a grid that does not change.
        let same: [UInt8] = (0..<60).map { UInt8($0 % 5) }
        XCTAssertEqual(VolumeResampling.resampleLabels(same, from: [5, 4, 3], to: [5, 4, 3], interpolation: .linear), same)
    }
}
