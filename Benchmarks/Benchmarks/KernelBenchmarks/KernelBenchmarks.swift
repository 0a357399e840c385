import Benchmark
import Engine
import Kernels
import SegrunBenchmarks

/// Every convolution algorithm on every layer shape of a base-32 U-Net at 256x256, at 1 thread and all cores.
/// Throughput is reported in convolutions per second; multiply by the layer's direct FLOPs for GFLOP/s
/// (or use `segrun bench --kernels`, which prints GFLOP/s and percent of peak directly).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds,
                                           maxDuration: .seconds(1), maxIterations: 200)
    for (name, g) in KernelBenchmark.unetLayers() {
        let input = [Float](repeating: 0.5, count: g.inputShape.elementCount)
        let weights = (0..<g.weightCount).map { Float($0 % 17) * 0.01 - 0.08 }
        for algorithm in ConvAlgorithm.candidates(for: g) {
            for threads in Set([1, ParallelFor.coreCount]).sorted() {
                guard let op = try? Conv2dOperator(g, weights: weights, bias: nil, activation: .relu,
                                                   algorithm: algorithm, threads: threads) else { continue }
                Benchmark("\(name) \(algorithm) \(threads)t") { benchmark in
                    var output = [Float](repeating: 0, count: g.outputShape.elementCount)
                    benchmark.startMeasurement()
                    for _ in benchmark.scaledIterations {
                        output.withUnsafeMutableBufferPointer { op.run(input: input, output: $0.baseAddress!) }
                    }
                    blackHole(output[0])
                }
            }
        }
    }
}
