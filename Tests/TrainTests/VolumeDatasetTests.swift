import XCTest
import Foundation
import ImageIO
import Volumes
@testable import Train

/// Datasets of volumes: slices named CASE_zNNNN that remember their case, labels from the label volumes,
/// whole-case validation splits, and clear errors for mismatched grids.
final class VolumeDatasetTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../ImageIOTests/Fixtures/volumes").standardized.path

    func makeDataset(_ root: String, cases: Int, nnUNet: Bool) throws {
        let source = try NIfTI.read(fixtures + "/nii-int16-le-sform.nii")
        let images = root + (nnUNet ? "/imagesTr" : "/images"), masks = root + (nnUNet ? "/labelsTr" : "/masks")
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: masks, withIntermediateDirectories: true)
        for c in 0..<cases {
            let name = String(format: "case%02d", c)
            let values = source.voxels.map { $0 + Float(c * 100) }
            let labels = values.map { UInt8($0 > 0 ? 1 : 0) }
            try VolumeFile.write(.float32(values), like: source, to: images + "/" + name + (nnUNet ? "_0000" : "") + ".nii.gz")
            try VolumeFile.write(.uint8(labels), like: source, to: masks + "/" + name + ".nii.gz")
        }
        if nnUNet {
            try Data(#"{"channel_names": {"0": "MRI"}, "labels": {"background": 0, "tumour": 1}, "file_ending": ".nii.gz"}"#.utf8)
                .write(to: URL(fileURLWithPath: root + "/dataset.json"))
        }
    }

    func testVolumesBecomeSlicesOfTheirCases() throws {
        for nnUNet in [false, true] {
            let root = NSTemporaryDirectory() + "segrun-voldata-\(getpid())-\(nnUNet)"
            defer { try? FileManager.default.removeItem(atPath: root) }
            try makeDataset(root, cases: 3, nnUNet: nnUNet)
            let data = try SegmentationDataset.loadFolder(root, height: 8, width: 8)
            // 3 cases of 5x4x3 voxels at spacing 0.9 x 1.1 x 2.5: sliced along z, 3 slices each.
            XCTAssertEqual(data.samples.count, 9)
            XCTAssertEqual(data.samples[4].name, "case01_z0001")
            XCTAssertEqual(data.samples[4].group, "case01")
            XCTAssertEqual(data.modelClasses, 1)
            XCTAssertEqual(data.classNames, [nnUNet ? "tumour" : "foreground"])
            XCTAssertTrue(data.samples.allSatisfy { $0.image.count == 64 && $0.mask.count == 64 })
            // nnU-Net's "MRI" channel: a z-score per volume; the plain layout: the PNG slices' window.
            XCTAssertEqual(data.volumeIntensity, nnUNet ? [.zscore] : [.standard])
            XCTAssertTrue(data.samples.contains { $0.mask.contains(1) } && data.samples.contains { $0.mask.contains(0) })
            let (train, validation) = try ValidationSplit.cases(0.34).split(data.samples)
            XCTAssertEqual(validation.map { data.samples[$0].group! }, ["case01", "case01", "case01"])
            XCTAssertEqual(train.count, 6)
            // A list of case names holds out those cases whole.
            let (listTrain, listValidation) = try ValidationSplit.names(["case02"]).split(data.samples)
            XCTAssertEqual(listValidation.map { data.samples[$0].group! }, ["case02", "case02", "case02"])
            XCTAssertEqual(listTrain.count, 6)
        }
    }

    /// 2.5D stacks neighbours of the same volume: the first slice of a case repeats itself below, never taking
    /// the last slice of the case before it.
    func testNeighbouringSlicesStayInTheirVolume() throws {
        let root = NSTemporaryDirectory() + "segrun-voldata-stack-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeDataset(root, cases: 2, nnUNet: false)
        let data = try SegmentationDataset.loadFolder(root, height: 8, width: 8).stackingNeighbours(3)
        let plain = try SegmentationDataset.loadFolder(root, height: 8, width: 8)
        XCTAssertEqual(data.channels, 3)
        let first = data.samples[3]  // case01_z0000
        XCTAssertEqual(first.group, "case01")
        XCTAssertEqual(Array(first.image[0..<64]), plain.samples[3].image)
        XCTAssertEqual(Array(first.image[128..<192]), plain.samples[4].image)
        XCTAssertEqual(Array(data.samples[2].image[128..<192]), plain.samples[2].image)  // case00's last slice
    }

    /// A CT channel gets one window for the whole set, from its foreground voxels: clipped at their 0.5 and
    /// 99.5 percentiles and normalized by their mean and standard deviation.
    func testCTChannelGetsTheForegroundWindow() throws {
        let root = NSTemporaryDirectory() + "segrun-voldata-ct-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeDataset(root, cases: 2, nnUNet: true)
        try Data(#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "tumour": 1}}"#.utf8).write(to: URL(fileURLWithPath: root + "/dataset.json"))
        let data = try SegmentationDataset.loadFolder(root, height: 8, width: 8)
        guard case .ct(let low, let high, let mean, let std)? = data.volumeIntensity?.first else { return XCTFail("\(String(describing: data.volumeIntensity))") }
        // The foreground: every voxel above 0 of both cases (case 1 is case 0 plus 100).
        let source = try NIfTI.read(fixtures + "/nii-int16-le-sform.nii")
        let foreground = (source.voxels + source.voxels.map { $0 + 100 }).enumerated().filter { i, v in
            (i < source.voxels.count ? v : v - 100 + 100) > 0
        }.map(\.element)
        let sorted = foreground.sorted()
        XCTAssertEqual(low, IntensityWindow.percentile(sorted, 0.5), accuracy: 1e-3)
        XCTAssertEqual(high, IntensityWindow.percentile(sorted, 99.5), accuracy: 1e-3)
        XCTAssertGreaterThan(std, 0)
        XCTAssertEqual(IntensityWindow("ct:\(low):\(high):\(mean):\(std)"), data.volumeIntensity?.first)
        XCTAssertEqual(IntensityWindow.list("zscore,percentile:0.5:99.5"), [.zscore, .standard])
        XCTAssertNil(IntensityWindow.list("zscore,bogus"))
    }

    func testMismatchedGridsNameTheFile() throws {
        let root = NSTemporaryDirectory() + "segrun-voldata-bad-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeDataset(root, cases: 1, nnUNet: false)
        let other = try NIfTI.read(fixtures + "/nii-float32-nocodes.nii.gz")
        var small = other
        small.size = [5, 4, 1]
        try VolumeFile.write(.uint8([UInt8](repeating: 0, count: 20)), like: small, to: root + "/masks/case00.nii.gz")
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 8, width: 8)) { XCTAssertTrue("\($0)".contains("case00.nii.gz"), "\($0)") }
        XCTAssertThrowsError(try ValidationSplit.cases(0.5).split([Sample(name: "a", image: [], mask: [], group: "only")]))
    }

    /// A float NRRD whose voxel axes run along `columns` (RAS world vectors, one per voxel axis).
    func writeNRRD(_ values: [Float], size: [Int], columns: [[Double]], to path: String) throws {
        let directions = columns.map { "(" + $0.map { "\($0)" }.joined(separator: ",") + ")" }.joined(separator: " ")
        var bytes = Array(("NRRD0004\ntype: float\ndimension: 3\nsizes: \(size.map(String.init).joined(separator: " "))\n"
            + "space: right-anterior-superior\nspace directions: \(directions)\nendian: little\nencoding: raw\n\n").utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A case stored in another orientation is turned to the first case's before it is cut: the same scan
    /// stored as RAS and as PIL gives the same slices, and the plan records RAS.
    func testCasesAreTurnedToTheFirstCasesOrientation() throws {
        let root = NSTemporaryDirectory() + "segrun-voldata-orient-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in ["images", "masks"] { try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true) }
        let size = [6, 5, 4]
        let values = (0..<120).map { Float(($0 * 37) % 23) }
        let labels = values.map { Float($0 > 11 ? 1 : 0) }
        let ras: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 2]]
        try writeNRRD(values, size: size, columns: ras, to: root + "/images/a.nrrd")
        try writeNRRD(labels, size: size, columns: ras, to: root + "/masks/a.nrrd")
        // The same scan stored as PIL: voxel x runs posterior, y inferior, z left.
        let turn = Reorientation(from: VolumeOrientation("RAS")!, to: VolumeOrientation("PIL")!)
        let pil: [[Double]] = [[0, -1, 0], [0, 0, -2], [-1, 0, 0]]
        try writeNRRD(turn.apply(values, size: size), size: turn.size(size), columns: pil, to: root + "/images/b.nrrd")
        try writeNRRD(turn.apply(labels, size: size), size: turn.size(size), columns: pil, to: root + "/masks/b.nrrd")
        let data = try SegmentationDataset.loadFolder(root, height: 8, width: 8)
        XCTAssertEqual(data.volumePlan?.orientation?.description, "RAS")
        XCTAssertEqual(data.volumePlan?.axis, .z)
        let a = data.samples.filter { $0.group == "a" }, b = data.samples.filter { $0.group == "b" }
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a.map(\.image), b.map(\.image))
        XCTAssertEqual(a.map(\.mask), b.map(\.mask))
    }
}
