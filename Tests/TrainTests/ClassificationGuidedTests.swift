import XCTest
import Foundation
import KernelChecks
import EngineChecks
@testable import Engine
@testable import Train

/// UNet 3+'s classification-guided module (`--cgm`): the presence head learns from its own binary
/// cross-entropy which images hold the class, and the gates then close the heads of the images it says are
/// empty, so an empty image gets an empty mask.
final class ClassificationGuidedTests: XCTestCase {
    /// Discs on noise, every other image without its disc.
    func halfEmptyDiscs(_ count: Int, size: Int = 32) -> SegmentationDataset {
        var rng = SeededGenerator(seed: 21)
        var samples: [Sample] = []
        for k in 0..<count {
            var image = [Float](repeating: 0, count: size * size), mask = [UInt8](repeating: 0, count: size * size)
            let cy = Float(9 + k % 13), cx = Float(9 + (k * 7) % 13), r = Float(4 + k % 4)
            for y in 0..<size {
                for x in 0..<size {
                    let inside = k % 2 == 0 && (Float(y) - cy) * (Float(y) - cy) + (Float(x) - cx) * (Float(x) - cx) < r * r
                    mask[y * size + x] = inside ? 1 : 0
                    image[y * size + x] = (inside ? 0.7 : 0.3) + 0.2 * rng.uniform()
                }
            }
            samples.append(Sample(name: String(format: "disc%02d", k), image: image, mask: mask))
        }
        return SegmentationDataset(samples: samples, channels: 1, modelClasses: 1, classNames: ["disc"], height: size, width: size, name: "discs")
    }

    func testPresenceHeadLearnsAndGatesCloseEmptyImages() throws {
        var config = ArchitectureConfig(architecture: .unet3Plus, baseWidth: 4, depth: 2, seed: 3)
        config.classificationGuided = true
        let model = try Model(config: config)
        XCTAssertEqual(model.graph.nodes.filter { if case .presenceGate = $0.op { return true } else { return false } }.count, 1)
        XCTAssertEqual(model.metadata[MetadataKey.classificationGuided], .int(1))
        let data = halfEmptyDiscs(24)
        var options = TrainingOptions()
        options.epochs = 12
        options.batchSize = 4
        options.threads = 2
        options.seed = 5
        options.learningRate = 3e-3
        let trainer = try Trainer(model: model, data: data, train: Array(0..<24), validation: Array(0..<24), options: options)
        XCTAssertNotNil(trainer.presenceLoss)
        let root = NSTemporaryDirectory() + "segrun-cgm-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try trainer.run(directory: root, resume: false) { _ in }
        let trained = try FileIO.readModel(root + "/last.segrun")
        let executor = try Executor(trained.graph, threads: 2)
        let mean = trained.inputMean[0], std = trained.inputStd[0]
        var correct = 0, emptyClosed = 0
        for (k, s) in data.samples.enumerated() {
            let x = Tensor(shape: TensorShape(batch: 1, channels: 1, height: 32, width: 32), data: s.image.map { ($0 - mean) / std })
            let y = try executor.run(x)[0]
            let closed = y.data.allSatisfy { $0 == PresenceGate.closed }
            let holdsDisc = k % 2 == 0
            if closed != holdsDisc { correct += 1 }
            if !holdsDisc && closed { emptyClosed += 1 }
        }
        // The presence head (alone deciding which images are closed) is right on at least 20 of 24 images.
        XCTAssertGreaterThanOrEqual(correct, 20, "presence right on \(correct) of 24 images")
        XCTAssertGreaterThanOrEqual(emptyClosed, 9, "\(emptyClosed) of 12 empty images closed")
    }

    func testOnlyUNet3PlusTakesTheModule() {
        var config = ArchitectureConfig(architecture: .unet, baseWidth: 4, depth: 2)
        config.classificationGuided = true
        XCTAssertThrowsError(try config.build()) { XCTAssertTrue("\($0)".contains("classification-guided"), "\($0)") }
    }

    /// Softmax models gate every class but the background; deep supervision gates every head.
    func testMultiClassDeepSupervisionGatesEveryHeadPastTheBackground() throws {
        var config = ArchitectureConfig(architecture: .unet3Plus, classes: 3, baseWidth: 4, depth: 2, deepSupervision: true, seed: 4)
        config.classificationGuided = true
        let graph = try config.build()
        let gates = graph.nodes.compactMap { n -> PresenceGate? in if case .presenceGate(let g) = n.op { return g } else { return nil } }
        XCTAssertEqual(gates.count, graph.outputs.count)
        XCTAssertTrue(gates.allSatisfy { $0.firstGated == 1 })
        var rng = SplitMix64(seed: 7)
        let x = Tensor(shape: TensorShape(batch: 2, channels: 1, height: 12, width: 8), data: rng.floats(2 * 12 * 8))
        let got = try Executor(graph, threads: 2, policy: .forced(.igemm)).run(x)
        let reference = try ReferenceExecutor.run(graph, [x])
        for (a, b) in zip(got, reference) { XCTAssertLessThan(normalizedError(a.data, b.data), 1e-4) }
    }
}
