import XCTest
import KernelChecks
@testable import Engine

final class InferenceTests: XCTestCase {
    /// A per-pixel model (only 1x1 convs) has no spatial context, so tiling and flips must not change it.
    func pointwiseModel() -> Model {
        let b = GraphBuilder(seed: 9)
        let x = b.input("image", channels: 1)
        let h = b.relu(b.conv(x, 8, kernel: 1, name: "a"))
        b.output("logits", b.conv(h, 3, kernel: 1, name: "b"))
        var m = Metadata()
        m[MetadataKey.classes] = .int(3)
        m[MetadataKey.inputChannels] = .int(1)
        m[MetadataKey.inputMultiple] = .int(1)
        return Model(metadata: m, graph: b.graph)
    }

    func testSlidingWindowOnOneTileEqualsPlainInference() throws {
        let model = try Model(config: ArchitectureConfig(architecture: .unet, baseWidth: 4, depth: 2, seed: 4))
        let s = try Segmenter(model, threads: 1, policy: .forced(.igemm))
        let x = TestModels.randomImage(TensorShape(channels: 1, height: 30, width: 19), seed: 1)
        let plain = try s.probabilities(x)
        let tiled = try s.probabilities(x, options: InferenceOptions(tile: 32))
        XCTAssertEqual(plain.data, tiled.data)
    }

    func testSlidingWindowBlendsTilesOfAPointwiseModelExactly() throws {
        let s = try Segmenter(pointwiseModel(), threads: 1, policy: .forced(.igemm))
        let x = TestModels.randomImage(TensorShape(channels: 1, height: 53, width: 40), seed: 2)
        let plain = try s.probabilities(x)
        for blending in [TileBlending.gaussian, .linear, .constant] {
            let tiled = try s.probabilities(x, options: InferenceOptions(tile: 16, overlap: 0.5, blending: blending))
            XCTAssertLessThan(TestModels.normalizedError(tiled, plain), 1e-5, "\(blending)")
        }
        let flipped = try s.probabilities(x, options: InferenceOptions(flips: true))
        XCTAssertLessThan(TestModels.normalizedError(flipped, plain), 1e-6)
    }

    func testTileStartsCoverTheAxis() {
        for size in [1, 15, 16, 17, 100, 257] {
            for tile in [16, 64] {
                let starts = SlidingWindow.starts(size: size, tile: tile, overlap: 0.25)
                XCTAssertEqual(starts.first, 0)
                XCTAssertEqual(starts.last! + min(tile, size), size)
                for (a, b) in zip(starts, starts.dropFirst()) { XCTAssertLessThanOrEqual(b - a, tile * 3 / 4) }
            }
        }
    }

    func testProbabilitiesAndLabels() throws {
        let s = try Segmenter(pointwiseModel(), threads: 1, policy: .forced(.igemm))
        let x = TestModels.randomImage(TensorShape(batch: 2, channels: 1, height: 5, width: 7), seed: 3)
        let p = try s.probabilities(x)
        for n in 0..<2 {
            for y in 0..<5 {
                for xx in 0..<7 {
                    let sum = (0..<3).reduce(Float(0)) { $0 + p[n, $1, y, xx] }
                    XCTAssertEqual(sum, 1, accuracy: 1e-5)
                }
            }
        }
        let labels = s.labels(p)
        XCTAssertEqual(labels.count, 2 * 35)
        XCTAssertTrue(labels.allSatisfy { $0 < 3 })
    }
}
