import XCTest
import Foundation
import Engine
@testable import Train
import ImageIO
import Instances

/// Multi-label segmentation (issue 23): overlapping labels kept as label bits from the UW-Madison layout, mask
/// folders per label and multi-channel masks; a model of independent sigmoid outputs trains on them and is scored
/// per label.
final class MultilabelTests: XCTestCase {
    func temporary(_ name: String) -> String { NSTemporaryDirectory() + "segrun-\(name)-\(getpid())" }

    /// The UW-Madison layout written by `SyntheticGITract` (16-bit PNGs, names stating size and spacing, run-length
    /// train.csv): read as multi-label, the small bowel and stomach overlap (pixels with bits 0b110), every slice
    /// knows its scan, and the same files read single-label still give one class per pixel (later classes win).
    func testUWMadisonLayoutKeepsOverlaps() throws {
        let root = temporary("gi")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try SyntheticGITract.write(to: root, cases: 2, slices: 6, size: 32, seed: 1)
        let data = try SegmentationDataset.loadFolder(root, height: 32, width: 32, multilabel: true)
        XCTAssertTrue(data.multilabel)
        XCTAssertEqual(data.classNames, ["background", "large_bowel", "small_bowel", "stomach"])
        XCTAssertEqual(data.modelClasses, 3)
        XCTAssertEqual(data.samples.count, 12)
        XCTAssertEqual(Set(data.samples.compactMap(\.group)), ["case1_day0", "case2_day0"])
        let overlapping = data.samples.reduce(0) { $0 + $1.mask.filter { $0 == 0b110 }.count }
        XCTAssertGreaterThan(overlapping, 0, "small bowel and stomach overlap")
        for bit in 0..<3 { XCTAssertTrue(data.samples.contains { $0.mask.contains { $0 & (1 << bit) != 0 } }, "label \(bit) occurs") }
        let single = try SegmentationDataset.loadFolder(root, height: 32, width: 32)
        XCTAssertFalse(single.multilabel)
        XCTAssertEqual(single.modelClasses, 4)
        XCTAssertTrue(single.samples.allSatisfy { $0.mask.allSatisfy { $0 <= 3 } })
        // A file whose name states another size than its PNG is refused, naming the file.
        let scans = root + "/case1/case1_day0/scans"
        try FileManager.default.moveItem(atPath: scans + "/slice_0001_32_32_1.50_1.50.png", toPath: scans + "/slice_0001_40_32_1.50_1.50.png")
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 32, width: 32, multilabel: true)) {
            XCTAssertTrue("\($0)".contains("the name says 40x32"), "\($0)")
        }
    }

    /// `masks/LABEL/NAME.png` folders (a label's file missing: that label is absent) and a multi-channel mask give
    /// the same label bits; without --multilabel the folder layout is refused with the reason.
    func testMaskFoldersAndMultiChannelMasks() throws {
        let root = temporary("labels")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        for dir in ["images", "masks/liver", "masks/tumour", "rgb/images", "rgb/masks"] {
            try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        let image = (0..<16).map { UInt8(10 * $0) }
        let liver: [UInt8] = [0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let tumour: [UInt8] = [0, 0, 255, 0, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]
        for name in ["a", "b"] { try ImageFile.writePNG(image, width: 4, height: 4, channels: 1, to: root + "/images/\(name).png") }
        try ImageFile.writePNG(liver, width: 4, height: 4, channels: 1, to: root + "/masks/liver/a.png")
        try ImageFile.writePNG(tumour, width: 4, height: 4, channels: 1, to: root + "/masks/tumour/a.png")
        try ImageFile.writePNG(liver, width: 4, height: 4, channels: 1, to: root + "/masks/liver/b.png")
        let data = try SegmentationDataset.loadFolder(root, height: 4, width: 4, multilabel: true)
        XCTAssertEqual(data.classNames, ["background", "liver", "tumour"])
        let expected = zip(liver, tumour).map { UInt8(($0 > 0 ? 1 : 0) | ($1 > 0 ? 2 : 0)) }
        XCTAssertEqual(data.samples[0].mask, expected)
        XCTAssertEqual(data.samples[1].mask, liver.map { $0 > 0 ? 1 : 0 }, "b has no tumour file: the label is absent")
        XCTAssertThrowsError(try SegmentationDataset.loadFolder(root, height: 4, width: 4)) { XCTAssertTrue("\($0)".contains("--multilabel"), "\($0)") }
        // The same labels as the channels of one RGB mask (R: label 1, G: label 2).
        try ImageFile.writePNG(image, width: 4, height: 4, channels: 1, to: root + "/rgb/images/a.png")
        let rgb: [UInt8] = (0..<16).flatMap { [liver[$0], tumour[$0], UInt8(0)] }
        try ImageFile.writePNG(rgb, width: 4, height: 4, channels: 3, to: root + "/rgb/masks/a.png")
        let channels = try SegmentationDataset.loadFolder(root + "/rgb", height: 4, width: 4, multilabel: true)
        XCTAssertEqual(channels.samples[0].mask, expected)
        XCTAssertEqual(channels.modelClasses, 3, "one label per channel of the mask")
    }

    /// A model of three sigmoid outputs trains on the synthetic GI scans (scans held out whole): the training loss
    /// falls by a fifth, validation scores each label as a mask of its own, and the saved model runs in the runtime
    /// as label bits that score as the trainer's, scored by case with the challenge's score. (How well it learns is checked at a realistic size by scripts/test's multi-label
    /// section, in a release build: each label's Dice and the UW-Madison score on held-out scans, fp32 and int8.)
    func testMultilabelModelTrainsAndIsScored() throws {
        let root = temporary("gi-train")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try SyntheticGITract.write(to: root, cases: 4, slices: 6, size: 32, seed: 4)
        let data = try SegmentationDataset.loadFolder(root, height: 32, width: 32, multilabel: true)
        var model = try Model(config: ArchitectureConfig(architecture: .unet, inChannels: 1, classes: 3, baseWidth: 8, depth: 2, seed: 3))
        model.metadata[MetadataKey.multilabel] = .int(1)
        var options = TrainingOptions()
        options.epochs = 8
        options.batchSize = 2
        options.threads = 2
        options.seed = 5
        options.learningRate = 1e-2
        let (train, validation) = try ValidationSplit.cases(0.25).split(data.samples)
        let trainer = try Trainer(model: model, data: data, train: train, validation: validation, options: options)
        let directory = root + "/run"
        var losses: [Double] = []
        try trainer.run(directory: directory, resume: false) { event in
            if case .epochDone(let r, _) = event { losses.append(r.trainLoss) }
        }
        XCTAssertLessThan(losses.last!, 0.8 * losses.first!, "training loss falls: \(losses)")
        let (_, scores) = try trainer.validate()
        XCTAssertTrue(scores.multilabel)
        XCTAssertEqual(scores.classes, [1, 2, 3])
        // The saved model through the runtime: label bits, scored by case with the challenge's score.
        let best = try FileIO.readModel(directory + "/last.segrun")
        XCTAssertTrue(best.isMultilabel)
        let segmenter = try Segmenter(best, threads: 2)
        var challenge = UWMadisonScore(labels: 3)
        var runtimeScores = SegmentationScores(modelClasses: 3, multilabel: true)
        var byScan: [String: (predicted: [[UInt8]], truth: [[UInt8]])] = [:]
        for i in validation {
            let s = data.samples[i]
            let x = Tensor(shape: TensorShape(batch: 1, channels: 1, height: 32, width: 32), data: s.image)
            let labels = segmenter.labels(try segmenter.probabilities(segmenter.normalize(x), options: InferenceOptions()))
            XCTAssertTrue(labels.allSatisfy { $0 < 8 }, "three label bits")
            runtimeScores.add(predicted: labels[...], truth: s.mask[...])
            byScan[s.group!, default: ([], [])].predicted.append(labels)
            byScan[s.group!, default: ([], [])].truth.append(s.mask)
        }
        for (_, scan) in byScan { challenge.addCase(predicted: scan.predicted, truth: scan.truth, height: 32, width: 32) }
        XCTAssertEqual(challenge.cases, 1)
        XCTAssertEqual(challenge.images, validation.count)
        XCTAssertTrue((0...1).contains(challenge.score))
        // The runtime's label bits score as the trainer's validation does (same weights; the training graph's
        // forward and the executor may differ in the last bits, so a pixel at the threshold can flip).
        for i in 0..<3 {
            XCTAssertEqual(runtimeScores.perClass[i].pooledDice ?? -1, scores.perClass[i].pooledDice ?? -1, accuracy: 0.01)
        }
        // A multi-label model refuses single-label data, and cross-entropy.
        var single = options
        single.loss = .crossEntropy
        XCTAssertThrowsError(try Trainer(model: best, data: data, train: train, validation: validation, options: single))
        let singleLabel = try SegmentationDataset.loadFolder(root, height: 32, width: 32)
        XCTAssertThrowsError(try Trainer(model: best, data: singleLabel, train: train, validation: validation, options: options)) {
            XCTAssertTrue("\($0)".contains("multi-label"), "\($0)")
        }
    }
}
