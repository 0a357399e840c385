import XCTest
import Foundation
import Engine
@testable import Train
import ImageIO

final class TrainerTests: XCTestCase {
    struct Interrupt: Error {}

    /// Discs on noise: a dataset small enough for debug-build training.
    func discs(_ count: Int, size: Int = 32) -> SegmentationDataset {
        var rng = SeededGenerator(seed: 11)
        var samples: [Sample] = []
        for k in 0..<count {
            var image = [Float](repeating: 0, count: size * size), mask = [UInt8](repeating: 0, count: size * size)
            let cy = Float(8 + k % 16), cx = Float(8 + (k * 7) % 16), r = Float(4 + k % 5)
            for y in 0..<size {
                for x in 0..<size {
                    let inside = (Float(y) - cy) * (Float(y) - cy) + (Float(x) - cx) * (Float(x) - cx) < r * r
                    mask[y * size + x] = inside ? 1 : 0
                    image[y * size + x] = (inside ? 0.7 : 0.3) + 0.1 * rng.uniform()
                }
            }
            samples.append(Sample(name: "disc\(k)", image: image, mask: mask))
        }
        return SegmentationDataset(samples: samples, channels: 1, modelClasses: 1, classNames: ["disc"], height: size, width: size, name: "discs")
    }

    func makeTrainer(_ data: SegmentationDataset) throws -> Trainer {
        let model = try Model(config: ArchitectureConfig(architecture: .unet, baseWidth: 4, depth: 2, seed: 1))
        var options = TrainingOptions()
        options.epochs = 3
        options.batchSize = 4
        options.threads = 2
        options.seed = 5
        let (train, validation) = try ValidationSplit.ends(0.25).split(data.samples)
        return try Trainer(model: model, data: data, train: train, validation: validation, options: options)
    }

    /// Training interrupted after epoch 2 and resumed ends bit-for-bit where the uninterrupted run ends.
    func testResumeIsExact() throws {
        let data = discs(16)
        let root = NSTemporaryDirectory() + "segrun-train-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeTrainer(data).run(directory: root + "/straight", resume: false) { _ in }
        XCTAssertThrowsError(try makeTrainer(data).run(directory: root + "/resumed", resume: false) { event in
            if case .epochDone(let r, _) = event, r.epoch == 2 { throw Interrupt() }
        })
        try makeTrainer(data).run(directory: root + "/resumed", resume: true) { _ in }
        let a = try FileIO.readModel(root + "/straight/last.segrun"), b = try FileIO.readModel(root + "/resumed/last.segrun")
        XCTAssertTrue(a.graph == b.graph, "resumed weights differ from the uninterrupted run")
        let logA = try String(contentsOfFile: root + "/straight/log.jsonl", encoding: .utf8)
        let logB = try String(contentsOfFile: root + "/resumed/log.jsonl", encoding: .utf8)
        XCTAssertEqual(logA.split(separator: "\n").count, 3)
        XCTAssertEqual(logA.split(separator: "\n").map { $0.contains("\"val_dice\"") }, [true, true, true])
        XCTAssertEqual(try String(contentsOfFile: root + "/straight/curves.svg", encoding: .utf8).hasPrefix("<svg"), true)
        _ = logB
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/straight/best.segrun"))
    }

    /// Validation splits over name-sorted slices: `ends` takes both ends; `stripes` takes evenly spaced runs
    /// and keeps their neighbours out of training.
    func testValidationSplits() throws {
        let names = (0..<100).map { String(format: "slice%03d", $0) }
        let ends = try ValidationSplit.parse("ends:0.2", seed: 0).split(names: names)
        XCTAssertEqual(ends.validation, Array(0..<10) + Array(90..<100))
        XCTAssertEqual(ends.train, Array(10..<90))
        let stripes = try ValidationSplit.parse("stripes:0.2:5", seed: 0).split(names: names)
        XCTAssertEqual(stripes.validation.count, 20)
        XCTAssertEqual(stripes.validation, [8, 9, 10, 11, 28, 29, 30, 31, 48, 49, 50, 51, 68, 69, 70, 71, 88, 89, 90, 91])
        let held = Set(stripes.validation)
        for t in stripes.train { XCTAssertFalse(held.contains(t - 1) || held.contains(t) || held.contains(t + 1), "slice \(t) touches validation") }
        XCTAssertEqual(stripes.train.count, 100 - 20 - 10)
        XCTAssertThrowsError(try ValidationSplit.parse("stripes:0.2", seed: 0))
    }

    /// Pooled Dice cannot hide a class that is never predicted: three images, class 1 found in one, class 2
    /// in the truth of one and predicted nowhere, class 3 nowhere at all. The empty-as-one mean rewards the
    /// miss (2/3 for class 2); pooled and present Dice give 0, and class 3 is left out of the means.
    func testScoresCannotHideANeverPredictedClass() {
        var scores = SegmentationScores(modelClasses: 4)
        scores.add(predicted: [1, 1, 0, 0][...], truth: [1, 0, 0, 0][...])  // class 1: Dice 2/3
        scores.add(predicted: [0, 0, 0, 0][...], truth: [2, 2, 0, 0][...])  // class 2 missed
        scores.add(predicted: [0, 0, 0, 0][...], truth: [0, 0, 0, 0][...])
        XCTAssertEqual(scores.perClass[0].pooledDice!, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(scores.perClass[0].presentImages, 1)
        XCTAssertEqual(scores.perClass[0].emptyAsOneDice!, (2.0 / 3.0 + 2) / 3, accuracy: 1e-12)
        XCTAssertEqual(scores.perClass[1].pooledDice, 0)
        XCTAssertEqual(scores.perClass[1].presentDice, 0)
        XCTAssertEqual(scores.perClass[1].emptyAsOneDice!, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertNil(scores.perClass[2].pooledDice)
        XCTAssertEqual(scores.neverPredicted, [1])
        XCTAssertEqual(scores.absentClasses, [2])
        XCTAssertEqual(scores.pooledDice, (2.0 / 3.0 + 0) / 2, accuracy: 1e-12)
        XCTAssertEqual(scores.presentDice, (2.0 / 3.0 + 0) / 2, accuracy: 1e-12)
        // A binary model scores its one class; merging two halves equals adding all.
        var a = SegmentationScores(modelClasses: 1), b = a, all = a
        a.add(predicted: [1, 0][...], truth: [1, 1][...]); b.add(predicted: [0, 0][...], truth: [0, 0][...])
        all.add(predicted: [1, 0][...], truth: [1, 1][...]); all.add(predicted: [0, 0][...], truth: [0, 0][...])
        a.merge(b)
        XCTAssertEqual(a, all)
        XCTAssertEqual(all.pooledDice, 2.0 / 3.0, accuracy: 1e-12)
    }

    func testMetricsConventions() {
        let empty = Metrics.overlap([0, 0, 0][...], [0, 0, 0][...], class: 1)
        XCTAssertEqual(empty.dice, 1)
        XCTAssertEqual(empty.iou, 1)
        let half = Metrics.overlap([1, 1, 0, 0][...], [1, 0, 0, 0][...], class: 1)
        XCTAssertEqual(half.dice, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(half.iou, 0.5, accuracy: 1e-12)
    }

    func testDatasetErrorsNameTheFile() throws {
        let root = NSTemporaryDirectory() + "segrun-data-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 32, width: 32)) { XCTAssertTrue("\($0)".contains("no such dataset")) }
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/masks", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 32, width: 32)) { XCTAssertTrue("\($0)".contains("no images")) }
        FileManager.default.createFile(atPath: root + "/images/a.png", contents: Data([1, 2, 3]))
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 32, width: 32)) { XCTAssertTrue("\($0)".contains("a.png: no mask")) }
        FileManager.default.createFile(atPath: root + "/masks/a.png", contents: Data([1, 2, 3]))
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 32, width: 32)) { XCTAssertTrue("\($0)".contains("a.png"), "\($0)") }
    }
}

final class DatasetLayoutTests: XCTestCase {
    func write(_ path: String, _ value: UInt8, channels: Int = 1, size: Int = 20) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var pixels = [UInt8](repeating: 0, count: size * size * channels)
        for i in 0..<(size * size / 2) { for c in 0..<channels { pixels[i * channels + c] = value } }
        try ImageFile.writePNG(pixels, width: size, height: size, channels: channels, to: path)
    }

    func testISICLayoutsWithSiblingGroundTruthFolder() throws {
        let root = NSTemporaryDirectory() + "segrun-isic-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(root + "/ISIC-2017_Training_Data/ISIC_0000000.png", 200, channels: 3)
        try write(root + "/ISIC-2017_Training_Data/ISIC_0000000_superpixels.png", 7, channels: 3)
        try write(root + "/ISIC-2017_Training_Data/ISIC_0000001.png", 90, channels: 3)
        try write(root + "/ISIC-2017_Training_Part1_GroundTruth/ISIC_0000000_Segmentation.png", 255)
        try write(root + "/ISIC-2017_Training_Part1_GroundTruth/ISIC_0000001_Segmentation.png", 255)
        let index = try DatasetIndex.scan(root + "/ISIC-2017_Training_Data")
        XCTAssertEqual(index.layout, "ISIC")
        XCTAssertEqual(index.cases.map { $0.name }, ["ISIC_0000000", "ISIC_0000001"])
        let data = try SegmentationDataset.loadFolder(root + "/ISIC-2017_Training_Data", height: 16, width: 16)
        XCTAssertEqual(data.channels, 3)
        XCTAssertEqual(data.modelClasses, 1)
        // 2018 naming, shared folder.
        try write(root + "/shared/ISIC_0000005.png", 120, channels: 3)
        try write(root + "/shared/ISIC_0000005_segmentation.png", 255)
        XCTAssertEqual(try DatasetIndex.scan(root + "/shared").cases.map { $0.mask.hasSuffix("ISIC_0000005_segmentation.png") }, [true])
    }

    func testNNUNetRawLayout() throws {
        let root = NSTemporaryDirectory() + "segrun-nnunet-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let json = #"{"channel_names": {"0": "T1", "1": "T2"}, "labels": {"background": 0, "tumour": 1, "edema": 2}, "file_ending": ".png", "numTraining": 2}"#
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data(json.utf8).write(to: URL(fileURLWithPath: root + "/dataset.json"))
        for case_ in ["case_001", "case_002"] {
            try write(root + "/imagesTr/\(case_)_0000.png", 100)
            try write(root + "/imagesTr/\(case_)_0001.png", 150)
            try write(root + "/labelsTr/\(case_).png", 2)
        }
        let data = try SegmentationDataset.loadFolder(root, height: 16, width: 16)
        XCTAssertEqual(data.channels, 2)
        XCTAssertEqual(data.modelClasses, 3)
        XCTAssertEqual(data.classNames, ["background", "tumour", "edema"])
        try FileManager.default.removeItem(atPath: root + "/imagesTr/case_002_0001.png")
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 16, width: 16)) { XCTAssertTrue("\($0)".contains("case_002_0001.png"), "\($0)") }
    }
}

final class AugmentationTests: XCTestCase {
    func testAugmentationIsSeededAndKeepsImageAndMaskAligned() {
        let size = 24
        var image = [Float](repeating: 0.2, count: size * size), mask = [UInt8](repeating: 0, count: size * size)
        for y in 6..<14 { for x in 4..<12 { image[y * size + x] = 0.8; mask[y * size + x] = 1 } }
        let s = Sample(name: "square", image: image, mask: mask)
        var noIntensity = Augmentation()
        noIntensity.brightness = 0; noIntensity.contrast = 0; noIntensity.gamma = 0; noIntensity.elasticPixels = 2
        for index in 0..<20 {
            let a = noIntensity.apply(s, channels: 1, height: size, width: size, seed: 3, epoch: 1, index: index)
            let b = noIntensity.apply(s, channels: 1, height: size, width: size, seed: 3, epoch: 1, index: index)
            XCTAssertEqual(a.image, b.image)
            XCTAssertEqual(a.mask, b.mask)
            // Where the mask says foreground, the warped image is bright; where it says background, dark
            // (allowing the interpolated border of the square).
            var agree = 0
            for p in 0..<(size * size) where (a.mask[p] == 1) == (a.image[p] > 0.5) { agree += 1 }
            XCTAssertGreaterThan(agree, size * size * 9 / 10, "sample \(index)")
        }
        XCTAssertNotEqual(noIntensity.apply(s, channels: 1, height: size, width: size, seed: 3, epoch: 1, index: 0).mask,
                          noIntensity.apply(s, channels: 1, height: size, width: size, seed: 3, epoch: 2, index: 0).mask)
    }
}

final class SliceStackingTests: XCTestCase {
    func testNeighbouringSlicesBecomeChannels() throws {
        let samples = (0..<4).map { Sample(name: "s\($0)", image: [Float](repeating: Float($0), count: 4), mask: [UInt8](repeating: UInt8($0 % 2), count: 4)) }
        let data = SegmentationDataset(samples: samples, channels: 1, modelClasses: 1, classNames: ["x"], height: 2, width: 2, name: "v")
        let stacked = try data.stackingNeighbours(3)
        XCTAssertEqual(stacked.channels, 3)
        XCTAssertEqual(stacked.samples[0].image, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1], "clamped at the first slice")
        XCTAssertEqual(stacked.samples[2].image, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        XCTAssertEqual(stacked.samples[2].mask, samples[2].mask)
        XCTAssertThrowsError(try data.stackingNeighbours(2))
    }
}

final class DatasetJSONTests: XCTestCase {
    /// A dataset.json that is not a JSON object is an error naming it (it was read as absent, silently dropping the
    /// class names or a CT's intensity window); no file is no metadata.
    func testAMalformedDatasetJSONIsAnError() throws {
        let root = NSTemporaryDirectory() + "segrun-json-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        XCTAssertNil(try DatasetIndex.datasetJSON(root))
        for (text, expected) in [("{\"labels\": ", "not valid JSON"), ("[1, 2]", "expected a JSON object")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/dataset.json"))
            XCTAssertThrowsError(try DatasetIndex.datasetJSON(root)) {
                XCTAssertTrue("\($0)".hasPrefix(root + "/dataset.json: " + expected), "\($0)")
            }
            XCTAssertThrowsError(try DatasetIndex.scan(root))
        }
        try Data("{\"classes\": [\"background\", \"lesion\"]}".utf8).write(to: URL(fileURLWithPath: root + "/dataset.json"))
        XCTAssertEqual(try DatasetIndex.datasetJSON(root)?["classes"] as? [String], ["background", "lesion"])
    }
}

final class RunLengthCSVTests: XCTestCase {
    /// Random run-length strings (numbers near 0, the mask's size and Int's ends, signs, junk) decode to a mask of
    /// the image's size or one error naming the source: never a trap.
    func testRandomRunsDecodeOrFailCleanly() {
        var random = SeededGenerator(seed: 99)
        let pieces = ["0", "1", "2", "7", "16", "17", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                      "x", "", "1e3", "+3", " "]
        var decoded = 0
        for _ in 0..<3000 {
            let count = Int(random.next() % 7)
            let rle = (0..<count).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined(separator: " ")
            for multilabel in [false, true] {
                do {
                    let mask = try DatasetIndex.decode([(classId: 2, rle: rle)], width: 4, height: 4, source: "s", multilabel: multilabel)
                    XCTAssertEqual(mask.count, 16)
                    decoded += 1
                } catch {
                    XCTAssertTrue("\(error)".hasPrefix("s: "), "\(rle): \(error)")
                }
            }
        }
        XCTAssertGreaterThan(decoded, 100, "some of the strings are valid runs, so both outcomes are exercised")
    }

    func testUWMadisonStyleCSV() throws {
        let root = NSTemporaryDirectory() + "segrun-rle-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let scans = root + "/train/case7/case7_day0/scans"
        try FileManager.default.createDirectory(atPath: scans, withIntermediateDirectories: true)
        for k in 1...2 {
            try ImageFile.writePNG([UInt8](repeating: UInt8(40 * k), count: 16), width: 4, height: 4, channels: 1,
                                   to: scans + String(format: "/slice_%04d_4_4_1.50_1.50.png", k))
        }
        let csv = """
        id,class,segmentation
        case7_day0_slice_0001,large_bowel,1 2 6 2
        case7_day0_slice_0001,stomach,16 1
        case7_day0_slice_0002,large_bowel,
        case7_day0_slice_0002,stomach,
        """
        try Data(csv.utf8).write(to: URL(fileURLWithPath: root + "/train.csv"))
        let data = try SegmentationDataset.loadFolder(root, height: 4, width: 4)
        XCTAssertEqual(data.classNames, ["background", "large_bowel", "stomach"])
        XCTAssertEqual(data.modelClasses, 3)
        XCTAssertEqual(data.samples[0].mask, [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2])
        XCTAssertEqual(data.samples[1].mask, [UInt8](repeating: 0, count: 16))
        try Data((csv + "\ncase7_day0_slice_0002,stomach,15 9").utf8).write(to: URL(fileURLWithPath: root + "/train.csv"))
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 4, width: 4)) { XCTAssertTrue("\($0)".contains("outside"), "\($0)") }
        // Runs whose numbers would overflow, or are not runs at all, are one error each, never a trap.
        for rle in ["9223372036854775807 10", "5 9223372036854775807", "-9223372036854775808 1", "0 1", "3", "1 x", "1.5 2"] {
            XCTAssertThrowsError(try DatasetIndex.decode([(classId: 1, rle: rle)], width: 4, height: 4, source: "s")) {
                XCTAssertTrue("\($0)".hasPrefix("s: "), "\(rle): \($0)")
            }
        }
    }
}
