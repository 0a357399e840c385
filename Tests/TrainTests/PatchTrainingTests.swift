import XCTest
import Kernels
import ImageIO
import Volumes
@testable import Engine
@testable import Train

/// 3D models on volumes: the patch sampler, Gaussian sliding windows and patch training with its exact resume.
final class PatchTrainingTests: XCTestCase {
    /// One synthetic case: a bright ellipsoid (label 1) in noise, x fastest; z from 0 to `depth`.
    static func data(size: [Int] = [20, 18, 24], seed: UInt64 = 1) -> VolumePatchData {
        var rng = SeededGenerator(seed: seed)
        let n = size.reduce(1, *)
        var image = [Float](repeating: 0, count: n), labels = [UInt8](repeating: 0, count: n)
        for z in 0..<size[2] { for y in 0..<size[1] { for x in 0..<size[0] {
            let dx = Double(x - size[0] / 2) / 5, dy = Double(y - size[1] / 2) / 4, dz = Double(z - size[2] / 2) / 7
            let v = (z * size[1] + y) * size[0] + x, inside = dx * dx + dy * dy + dz * dz < 1
            labels[v] = inside ? 1 : 0
            image[v] = (inside ? 0.8 : 0.2) + 0.1 * rng.uniform()
        } } }
        var plan = VolumePlan(spacings: [[1, 1, 1]], sizes: [size])
        plan.orientation = nil
        return VolumePatchData(name: "ellipsoid", cases: [.init(name: "e", size: size, channels: 1, image: image, labels: labels)],
                               channels: 1, modelClasses: 1, classNames: ["ellipsoid"], plan: plan, windows: [.standard])
    }

    func testSlabSplitAndHeldOutRanges() throws {
        var d = Self.data()
        try d.split(.slab(from: 0.25, to: 0.75))
        XCTAssertEqual(d.validation, [.init(caseIndex: 0, z: 6..<18)])
        XCTAssertEqual(d.training, [.init(caseIndex: 0, z: 0..<6), .init(caseIndex: 0, z: 18..<24)])
        XCTAssertThrowsError(try d.split(.cases(0.2))) { XCTAssertTrue("\($0)".contains("at least 2 cases"), "\($0)") }
        XCTAssertThrowsError(try d.split(.slab(from: 0, to: 1))) { XCTAssertTrue("\($0)".contains("no training voxels"), "\($0)") }
        XCTAssertEqual(try VolumePatchData.heldOut(.cases(0.5), depths: [4, 5, 6, 7]).map { $0 != nil }, [true, false, true, false])
        XCTAssertThrowsError(try VolumePatchData.Split.parse("slab:0.7:0.3"))
        XCTAssertEqual(try VolumePatchData.Split.parse("slab:0.3:0.7"), .slab(from: 0.3, to: 0.7))
    }

    /// Draws repeat for (seed, epoch, index); every third patch holds foreground; no patch, rotated and scaled
    /// or not, reads a voxel of the held-out slab (marked with a value no other voxel has).
    func testPatchesAreSeededOversampleForegroundAndNeverReadTheSlab() throws {
        var d = Self.data()
        let plane = 20 * 18
        for z in 8..<16 { for v in (z * plane)..<((z + 1) * plane) { d.cases[0].image[v] = 1000 } }
        try d.split(.slab(from: 8.0 / 24, to: 16.0 / 24))
        var augmentation = PatchAugmentation()
        augmentation.spatialProbability = 1
        augmentation.noise = 0
        augmentation.blur = 0
        let sampler = PatchSampler(d, patch: [8, 8, 8], augmentation: augmentation, seed: 7, mean: [0], std: [1])
        for index in 0..<30 {
            let a = sampler.sample(epoch: 3, index: index), b = sampler.sample(epoch: 3, index: index)
            XCTAssertEqual(a.image, b.image)
            XCTAssertEqual(a.labels, b.labels)
            XCTAssertFalse(a.image.contains { $0 > 50 }, "patch \(index) read the held-out slab")
            if index % 3 == 2 { XCTAssertTrue(a.labels.contains(1), "patch \(index) should be centred on foreground") }
        }
        XCTAssertNotEqual(sampler.sample(epoch: 3, index: 0).image, sampler.sample(epoch: 4, index: 0).image)
    }

    /// Elastic deformation (off by default): seeded, a real change of the patch, and the labels move with the
    /// image (trilinear image, nearest labels through the same displaced map); the field stays within its
    /// bounds and leaves z alone for in-plane-only data.
    func testElasticDeformationIsSeededAndKeepsLabelsOnTheImage() throws {
        XCTAssertEqual(PatchAugmentation().elasticFraction, 0)
        var d = Self.data(size: [24, 24, 24])
        try d.split(.slab(from: 0.9, to: 1))
        var elastic = PatchAugmentation.none
        elastic.elasticFraction = 1.0 / 8
        elastic.elasticProbability = 1
        let plain = PatchSampler(d, patch: [16, 16, 16], augmentation: .none, seed: 5, mean: [0], std: [1])
        let deformed = PatchSampler(d, patch: [16, 16, 16], augmentation: elastic, seed: 5, mean: [0], std: [1])
        var moved = 0, agree = 0, total = 0
        for index in 0..<6 {
            let a = deformed.sample(epoch: 1, index: index), b = deformed.sample(epoch: 1, index: index)
            XCTAssertEqual(a.image, b.image)
            XCTAssertEqual(a.labels, b.labels)
            if a.labels != plain.sample(epoch: 1, index: index).labels { moved += 1 }
            for (v, l) in zip(a.image, a.labels) { total += 1; if (v > 0.5) == (l == 1) { agree += 1 } }
        }
        XCTAssertGreaterThanOrEqual(moved, 3, "the deformation should move the ellipsoid's border in most patches")
        XCTAssertGreaterThan(Double(agree) / Double(total), 0.97, "labels no longer on the image: \(agree) of \(total)")
        var rng = PatchSampler.Random(generator: SeededGenerator(seed: 3))
        let field = ElasticField(extent: [16, 12, 8], maxima: [2, 1.5, 0], rng: &rng)
        for z in 0..<8 { for y in 0..<12 { for x in 0..<16 {
            let v = field.at(x, y, z)
            XCTAssertTrue(abs(v.x) <= 2 && abs(v.y) <= 1.5 && v.z == 0, "\(v) at \(x), \(y), \(z)")
        } } }
    }

    /// Gaussian window weights: positive, symmetric, 1 at the centre of an odd window.
    func testWindowWeights() {
        let w = SlidingWindow.weights(extents: [5, 7, 9], blending: .gaussian)
        XCTAssertEqual(w[(2 * 7 + 3) * 9 + 4], 1, accuracy: 1e-6)
        XCTAssertTrue(w.allSatisfy { $0 >= 1e-4 })
        XCTAssertEqual(w[0], w[w.count - 1], accuracy: 1e-7)
        XCTAssertEqual(SlidingWindow.weights(extents: [4, 6], blending: .gaussian), SlidingWindow.weights(height: 4, width: 6, blending: .gaussian))
    }

    /// A per-voxel network gives every window the same value at a voxel, so the blended sliding windows equal
    /// the whole volume's probabilities for any window, overlap and blending, with padding where the volume is
    /// smaller than the window.
    func testSlidingWindowsOfAPointwiseNetworkMatchTheWholeVolume() throws {
        let b = GraphBuilder(seed: 5)
        let x = b.input("volume", channels: 2, spatialRank: 3)
        b.output("logits", b.conv(b.relu(b.conv(x, 4, kernel: 1, name: "a")), 3, kernel: 1, name: "head"))
        var model = Model(metadata: Metadata(), graph: b.graph)
        model.metadata[MetadataKey.classes] = .int(3)
        let segmenter = try Segmenter(model, threads: 2)
        let shape = TensorShape(batch: 1, channels: 2, depth: 7, height: 11, width: 13)
        let input = Tensor(shape: shape, data: (0..<shape.elementCount).map { Float(sin(0.7 * Double($0))) })
        let whole = try segmenter.probabilities(input)
        for (window, blending) in [([4, 4, 4], TileBlending.gaussian), ([3, 16, 5], .linear), ([8, 8, 8], .constant)] {
            let p = try segmenter.volumeProbabilities(input, windowing: VolumeWindowing(window: window, overlap: 0.5, blending: blending))
            XCTAssertEqual(p.shape, whole.shape)
            let error = zip(p.data, whole.data).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(error, 1e-5, "\(window) \(blending)")
        }
        let mirrored = try segmenter.volumeProbabilities(input, windowing: VolumeWindowing(window: [4, 8, 8], mirror: true))
        XCTAssertLessThan(zip(mirrored.data, whole.data).map { abs($0 - $1) }.max()!, 1e-5)
    }

    /// unet3d-xs learns the ellipsoid from patches, and a run stopped after one epoch and resumed ends with the
    /// same weights, bit for bit, as the uninterrupted run.
    func testPatchTrainingLearnsAndResumesExactly() throws {
        var d = Self.data(size: [24, 24, 24])
        try d.split(.slab(from: 0.34, to: 0.66))
        var config = try ArchitecturePreset.named("unet3d-xs").config
        config.classes = 1
        config.seed = 3
        let model = try Model(config: config, preset: "unet3d-xs")
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 2
        options.learningRate = 3e-3
        options.threads = 2
        options.seed = 11
        func trainer() throws -> PatchTrainer {
            try PatchTrainer(model: model, data: d, patch: [8, 16, 16], patchesPerEpoch: 12, augmentation: PatchAugmentation(), options: options)
        }
        let root = NSTemporaryDirectory() + "/segrun-patches-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var records: [EpochRecord] = []
        let whole = try trainer()
        try whole.run(directory: root + "/whole", resume: false) { if case .epochDone(let r, _) = $0 { records.append(r) } }
        XCTAssertLessThan(records[1].trainLoss, records[0].trainLoss)

        struct Interrupted: Error {}
        XCTAssertThrowsError(try trainer().run(directory: root + "/resumed", resume: false) { if case .epochDone = $0 { throw Interrupted() } })
        try trainer().run(directory: root + "/resumed", resume: true) { _ in }
        let a = try FileIO.readModel(root + "/whole/last.segrun"), b = try FileIO.readModel(root + "/resumed/last.segrun")
        XCTAssertTrue(a.graph.parameters.map(\.floats) == b.graph.parameters.map(\.floats), "the resumed run's weights differ")
        XCTAssertEqual(a.inputPatch, [8, 16, 16])
    }
}
