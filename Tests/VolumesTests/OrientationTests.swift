import XCTest
import Engine
import ImageIO
@testable import Volumes

/// Orientation from affines, reorientation that keeps every voxel where it is in the world, and a model
/// that predicts a volume stored in another orientation as it would the same scan in its own.
final class OrientationTests: XCTestCase {
    func volume(_ size: [Int], affine: [[Double]]) -> Volume {
        let n = size.reduce(1, *)
        return Volume(size: size, channels: 1, voxels: (0..<n).map { Float(($0 * 37 + $0 / 7) % 101) }, spacing: [0.9, 1.1, 2.5],
                      affine: affine, units: "mm", source: .nrrd(NRRDHeader(magic: "NRRD0004", fields: [])))
    }

    func testCodesFromAffinesAndText() {
        XCTAssertEqual(VolumeOrientation(affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]).description, "RAS")
        XCTAssertEqual(VolumeOrientation(affine: [[-0.9, 0, 0, 0], [0, -0.9, 0, 0], [0, 0, 2.5, 0], [0, 0, 0, 1]]).description, "LPS")
        // Voxel x runs inferior (slightly oblique), y right, z posterior.
        XCTAssertEqual(VolumeOrientation(affine: [[0.05, 1, 0, 0], [0.1, 0, -2, 0], [-3, 0.1, 0, 0], [0, 0, 0, 1]]).description, "IRP")
        XCTAssertEqual(VolumeOrientation("lps")?.description, "LPS")
        XCTAssertNil(VolumeOrientation("RRS"))
        XCTAssertNil(VolumeOrientation("RA"))
    }

    /// Every orientation of a scan: each voxel keeps its value at its world position through the new affine,
    /// and the inverse brings back the original bits.
    func testReorientationKeepsWorldPositions() {
        let v = volume([5, 4, 3], affine: [[0.9, 0, 0, -2], [0, 1.1, 0, 3], [0, 0, 2.5, 1], [0, 0, 0, 1]])
        let from = VolumeOrientation(affine: v.affine)
        for codes in ["RAS", "LPS", "PSR", "IAL", "SLA"] {
            let turn = Reorientation(from: from, to: VolumeOrientation(codes)!)
            let t = turn.apply(v)
            XCTAssertEqual(VolumeOrientation(affine: t.affine).description, codes)
            // World position of each voxel of t, back to an index of v.
            for z in 0..<t.size[2] { for y in 0..<t.size[1] { for x in 0..<t.size[0] {
                let world = (0..<3).map { i in t.affine[i][0] * Double(x) + t.affine[i][1] * Double(y) + t.affine[i][2] * Double(z) + t.affine[i][3] }
                let index = (0..<3).map { i in Int(((world[i] - v.affine[i][3]) / v.affine[i][i]).rounded()) }
                XCTAssertEqual(t.voxels[(z * t.size[1] + y) * t.size[0] + x], v.voxels[(index[2] * 4 + index[1]) * 5 + index[0]], "\(codes) \(x) \(y) \(z)")
            } } }
            XCTAssertEqual(turn.inverse.apply(t).voxels, v.voxels, codes)
            for i in 0..<4 { for j in 0..<4 { XCTAssertEqual(turn.inverse.apply(t).affine[i][j], v.affine[i][j], accuracy: 1e-12, codes) } }
        }
    }

    /// A model trained in RAS predicts a copy of a scan stored as PSR exactly as it predicts the RAS scan:
    /// the labels (and probabilities) come back in the copy's own voxel order.
    func testAModelPredictsAnyOrientationAsItsOwn() throws {
        var model = try Model(config: ArchitectureConfig(architecture: .unet, inChannels: 1, classes: 1, baseWidth: 4, depth: 2))
        model.metadata[MetadataKey.inputVolumeOrientation] = .string("RAS")
        model.metadata[MetadataKey.inputVolumeAxis] = .string("z")
        let v = volume([12, 10, 6], affine: [[0.9, 0, 0, -2], [0, 1.1, 0, 3], [0, 0, 2.5, 1], [0, 0, 0, 1]])
        // Untrained: thresholded at the median of its distinct probabilities on this scan, so the mask is neither empty nor full.
        var all: [Float] = []
        _ = try VolumeSegmentation(segmenter: try Segmenter(model, threads: 1)).labels(v, probabilities: { _, planes in all += planes })
        let distinct = Set(all).sorted()
        model.metadata[MetadataKey.threshold] = .float(Double(distinct[distinct.count / 2]))
        let run = VolumeSegmentation(segmenter: try Segmenter(model, threads: 1))
        var p: [[Float]] = [], q: [[Float]] = []
        let expected = try run.labels(v, probabilities: { _, planes in p.append(planes) })
        let turn = Reorientation(from: VolumeOrientation(affine: v.affine), to: VolumeOrientation("PSR")!)
        let stored = turn.apply(v)
        XCTAssertNotNil(run.reorientation(stored.affine))
        let got = try run.labels(stored, probabilities: { _, planes in q.append(planes) })
        XCTAssertEqual(got.size, stored.size)
        XCTAssertEqual(got.labels, turn.apply(expected.labels, size: v.size))
        XCTAssertGreaterThan(Set(expected.labels).count, 1)
        // Probabilities (one plane per z slice, binary), gathered whole and compared in the stored order.
        func whole(_ slices: [[Float]], size: [Int]) -> [Float] {
            let plane = size[0] * size[1]
            return slices.flatMap { $0 }.count == size.reduce(1, *) * 1 ? slices.flatMap { $0 } : { XCTFail("one plane per slice"); return [] }()
        }
        XCTAssertEqual(whole(q, size: stored.size), turn.apply(whole(p, size: v.size), size: v.size))
    }
}
