import Foundation
import Kernels
import Engine

/// One measured (layer shape, algorithm, threads) point.
public struct KernelMeasurement: Sendable {
    public let name: String
    public let algorithm: String
    public let threads: Int
    public let medianSeconds: Double
    public let gflops: Double
    public let peakGflops: Double
    public var percentPeak: Double { 100 * gflops / peakGflops }

    public var json: String {
        func num(_ x: Double) -> String { String(format: "%.6g", x) }
        return "{\"name\":\"\(name)\",\"algorithm\":\"\(algorithm)\",\"threads\":\(threads),\"median_s\":\(num(medianSeconds)),"
            + "\"gflops\":\(num(gflops)),\"peak_gflops\":\(num(peakGflops)),\"percent_peak\":\(num(percentPeak))}"
    }
}

/// Microbenchmarks of the convolution kernels on the layer shapes of a U-Net with base width 32 at 256x256.
public enum KernelBenchmark {
    /// (name, geometry) of the layers a `unet-s`-like network runs, plus 1x1 layers.
    public static func unetLayers(size: Int = 256) -> [(String, Conv2dGeometry)] {
        func conv(_ cin: Int, _ cout: Int, _ s: Int, kernel: Int = 3) -> (String, Conv2dGeometry) {
            let g = Conv2dGeometry(inChannels: cin, inHeight: s, inWidth: s, outChannels: cout, kernel: kernel)
            return ("\(kernel)x\(kernel) \(cin)->\(cout) @\(s)", g)
        }
        let s = size
        return [
            conv(3, 32, s), conv(32, 32, s), conv(64, 64, s / 2), conv(128, 128, s / 4), conv(256, 256, s / 8), conv(512, 512, s / 16),
            // Decoder convolutions after concat (skip + up channels).
            conv(512, 256, s / 8), conv(256, 128, s / 4), conv(128, 64, s / 2), conv(64, 32, s),
            // 1x1 layers.
            conv(64, 64, s / 2, kernel: 1), conv(128, 128, s / 4, kernel: 1), conv(256, 256, s / 8, kernel: 1), conv(32, 1, s, kernel: 1),
        ]
    }

    /// The layer a name of `unetLayers`' form describes ("3x3 16->16 @256": square kernel, stride 1, same
    /// padding), or nil.
    public static func layer(named name: String) -> (String, Conv2dGeometry)? {
        let parts = name.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("@"), let size = Int(parts[2].dropFirst()), size > 0 else { return nil }
        let kernel = parts[0].split(separator: "x"), channels = parts[1].components(separatedBy: "->")
        guard kernel.count == 2, kernel[0] == kernel[1], let k = Int(kernel[0]), k > 0, k % 2 == 1,
              channels.count == 2, let cin = Int(channels[0]), let cout = Int(channels[1]), cin > 0, cout > 0 else { return nil }
        return (name, Conv2dGeometry(inChannels: cin, inHeight: size, inWidth: size, outChannels: cout, kernel: k))
    }

    /// Measures every algorithm (or only `only`) on every layer, at each thread count.
    public static func run(layers: [(String, Conv2dGeometry)], threadCounts: [Int], only: ConvAlgorithm? = nil,
                           peaks: [Int: Double], minSeconds: Double = 0.25,
                           report: (KernelMeasurement) -> Void) {
        var rng = BenchmarkRandom(seed: 42)
        for (name, g) in layers {
            let input = (0..<g.inputShape.elementCount).map { _ in Float.random(in: -1...1, using: &rng) }
            let weights = (0..<g.weightCount).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
            let bias = (0..<g.outChannels).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
            var output = [Float](repeating: 0, count: g.outputShape.elementCount)
            for algorithm in ConvAlgorithm.candidates(for: g) where only == nil || only == algorithm {
                // One operator and one workspace per thread count, allocated once as the executor does.
                var ops: [(threads: Int, op: Conv2dOperator, workspace: AlignedBuffer)] = []
                for threads in threadCounts {
                    guard let op = try? Conv2dOperator(g, weights: weights, bias: bias, activation: .relu,
                                                       algorithm: algorithm, threads: threads) else { continue }
                    ops.append((threads, op, AlignedBuffer(count: op.workspaceFloats)))
                }
                if ops.isEmpty { continue }
                func runOnce(_ i: Int) -> Double {
                    let start = MonotonicClock.now()
                    output.withUnsafeMutableBufferPointer {
                        ops[i].op.run(input: input, output: $0.baseAddress!, workspace: ops[i].workspace.pointer)
                    }
                    return MonotonicClock.now() - start
                }
                for i in ops.indices { _ = runOnce(i) }  // warm-up
                let once = ops.indices.map { runOnce($0) }.reduce(0, +)
                // The thread counts take turns, so a slow spell of this shared machine hits all of them alike
                // and the scaling ratio stays meaningful.
                let rounds = max(3, min(60, Int(minSeconds * Double(ops.count) / max(once, 1e-6))))
                var times = [[Double]](repeating: [], count: ops.count)
                for _ in 0..<rounds { for i in ops.indices { times[i].append(runOnce(i)) } }
                for i in ops.indices {
                    let sorted = times[i].sorted()
                    let median = sorted[sorted.count / 2]
                    let gflops = g.directFLOPs / median / 1e9
                    report(KernelMeasurement(name: name, algorithm: "\(algorithm)", threads: ops[i].threads, medianSeconds: median,
                                             gflops: gflops, peakGflops: peaks[ops[i].threads] ?? .nan))
                }
            }
        }
    }
}

/// A fast deterministic generator for benchmark data (xorshift64*).
struct BenchmarkRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}
