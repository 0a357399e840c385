import XCTest
import Kernels
import KernelChecks
@testable import Engine

final class ThreadingTests: XCTestCase {
    func testChunksCoverEveryItemOnce() {
        for count in [0, 1, 2, 5, 17, 100] {
            for threads in 1...5 {
                var seen = [Int](repeating: 0, count: count)
                for t in 0..<threads { for i in ParallelFor.chunk(t, of: threads, count: count) { seen[i] += 1 } }
                XCTAssertEqual(seen, [Int](repeating: 1, count: count), "count \(count) threads \(threads)")
            }
        }
    }

    func testParallelForRunsEveryItem() {
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            ParallelFor.run(count: 1000, threads: 4) { items, _ in for i in items { h[i] += 1 } }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
    }

    /// Every algorithm gives bitwise-identical output for 1, 2 and 3 threads, on shapes with partial tiles.
    func testConvolutionIsBitwiseIdenticalAcrossThreadCounts() throws {
        var rng = SplitMix64(seed: 0x3001)
        let geometries = [
            Conv2dGeometry(batch: 2, inChannels: 17, inHeight: 13, inWidth: 11, outChannels: 33, kernel: 3),
            Conv2dGeometry(batch: 1, inChannels: 32, inHeight: 9, inWidth: 20, outChannels: 16, kernel: 1),
            Conv2dGeometry(batch: 1, inChannels: 5, inHeight: 15, inWidth: 7, outChannels: 5, kernel: 5, stride: 2, groups: 5),
            Conv2dGeometry(batch: 1, inChannels: 48, inHeight: 31, inWidth: 29, outChannels: 48, kernel: 3),
        ]
        for g in geometries {
            let input = rng.floats(g.inputShape.elementCount)
            let weights = rng.floats(g.weightCount)
            let bias = rng.floats(g.outChannels)
            for algorithm in ConvAlgorithm.candidates(for: g) {
                var outputs: [[Float]] = []
                for threads in [1, 2, 3] {
                    let op = try Conv2dOperator(g, weights: weights, bias: bias, activation: .relu, algorithm: algorithm, threads: threads)
                    var out = poisoned(g.outputShape.elementCount)
                    out.withUnsafeMutableBufferPointer { op.run(input: input, output: $0.baseAddress!) }
                    outputs.append(out)
                }
                let bits = outputs.map { $0.map(\.bitPattern) }
                XCTAssertEqual(bits[0], bits[1], "\(algorithm) \(g): 1 vs 2 threads")
                XCTAssertEqual(bits[0], bits[2], "\(algorithm) \(g): 1 vs 3 threads")
                XCTAssertFalse(outputs[0].contains { $0.isNaN }, "\(algorithm) \(g) left elements unwritten")
            }
        }
    }
}
