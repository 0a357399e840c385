import Foundation
import Kernels
import Engine

/// Microbenchmarks of the int8 convolution kernels (`Q8Conv2dPlan`'s GEMM and `Q8WinogradPlan`'s exact
/// F(2x2,3x3) and F(4x4,3x3)) on the same layer shapes as `KernelBenchmark`, with random int8 weights and uint8
/// inputs. GOP/s count 2 ops per multiply-add of a direct convolution, as GFLOP/s do for fp32, so the
/// two tables compare directly; `percentPeak` is of this machine's int8 peak (`MachinePeak.measureInt8`).
public enum Int8KernelBenchmark {
    /// `int8-winograd-f4-per-run` transforms its weights per run from the int8 kernels (layers with few tiles).
    public static let algorithms = ["int8-gemm", "int8-winograd-f2", "int8-winograd-f4", "int8-winograd-f4-per-run"]

    public static func run(layers: [(String, Conv2dGeometry)], threadCounts: [Int], only: String? = nil,
                           peaks: [Int: Double], minSeconds: Double = 0.25, report: (KernelMeasurement) -> Void) throws {
        var rng = BenchmarkRandom(seed: 42)
        for (name, g) in layers {
            let input = (0..<g.inputShape.elementCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Shaped like per-channel quantized trained weights (bell-shaped, the largest near +-127, mean |w| about
            // 30): F(4x4,3x3)'s exactness depends on sum|w|; the other kernels' speed does not depend on the values.
            let weights = (0..<g.weightCount).map { _ -> Int8 in
                let bell = (0..<4).map { _ in Double.random(in: -1...1, using: &rng) }.reduce(0, +)
                return Int8(max(-127, min(127, (bell * 24).rounded())))
            }
            let bias = (0..<g.outChannels).map { _ in Int32.random(in: -5000...5000, using: &rng) }
            let multipliers = (0..<g.outChannels).map { _ in Float.random(in: 1e-4...1e-3, using: &rng) }
            for algorithm in algorithms where only == nil || only == algorithm {
                if algorithm != "int8-gemm" && !Q8WinogradPlan.supports(g) { continue }
                let perRun = algorithm == "int8-winograd-f4-per-run"
                if perRun && !Q8WinogradPlan.supportsWeightsPerRun(g) { continue }
                let depthGroups = weights.withUnsafeBufferPointer {
                    Q8WinogradPlan.f4DepthGroups(weights: $0.baseAddress!, inChannels: g.inChannels, outChannels: g.outChannels)
                }
                if (algorithm == "int8-winograd-f4" || perRun) && depthGroups.count > Q8WinogradPlan.maxF4DepthGroups { continue }
                var plans: [(threads: Int, plan: any Q8LayerPlan, scratch: AlignedBuffer)] = []
                for threads in threadCounts {
                    let plan: any Q8LayerPlan = try weights.withUnsafeBufferPointer { w in
                        try bias.withUnsafeBufferPointer { b -> any Q8LayerPlan in
                            if algorithm == "int8-gemm" {
                                return try Q8Conv2dPlan(g, weights: w.baseAddress!, bias: b.baseAddress!, multipliers: multipliers,
                                                        inputZeroPoint: 3, activation: .relu, output: .quantized(zeroPoint: 0))
                            }
                            return try Q8WinogradPlan(g, weights: w.baseAddress!, bias: b.baseAddress!, multipliers: multipliers,
                                                      inputZeroPoint: 3, activation: .relu, output: .quantized(zeroPoint: 0),
                                                      tile: algorithm == "int8-winograd-f2" ? .f2 : .f4, weightsPerRun: perRun,
                                                      depthGroups: depthGroups)
                        }
                    }
                    plan.splitColumns(forThreads: threads)
                    plans.append((threads, plan, AlignedBuffer(count: (plan.scratchBytes * threads + 3) / 4 + 16)))
                }
                var output = [UInt8](repeating: 0, count: g.outputShape.elementCount)
                func runOnce(_ i: Int) -> Double {
                    let (threads, plan, scratch) = plans[i]
                    let per = plan.scratchBytes
                    let start = MonotonicClock.now()
                    input.withUnsafeBufferPointer { x in
                        output.withUnsafeMutableBytes { y in
                            for n in 0..<g.batch {
                                let src = x.baseAddress! + n * g.inputShape.elementCount / g.batch
                                let dst = y.baseAddress! + n * g.outputShape.elementCount / g.batch
                                ParallelFor.run(count: plan.workItems, threads: threads) { items, thread in
                                    plan.run(input: src, output: dst, items: items, scratch: UnsafeMutableRawPointer(scratch.pointer) + thread * per)
                                }
                            }
                        }
                    }
                    return MonotonicClock.now() - start
                }
                for i in plans.indices { _ = runOnce(i) }
                let once = plans.indices.map { runOnce($0) }.reduce(0, +)
                let rounds = max(3, min(60, Int(minSeconds * Double(plans.count) / max(once, 1e-6))))
                var times = [[Double]](repeating: [], count: plans.count)
                for _ in 0..<rounds { for i in plans.indices { times[i].append(runOnce(i)) } }
                for i in plans.indices {
                    let sorted = times[i].sorted()
                    let median = sorted[sorted.count / 2]
                    report(KernelMeasurement(name: name, algorithm: algorithm, threads: plans[i].threads, medianSeconds: median,
                                             gflops: g.directFLOPs / median / 1e9, peakGflops: peaks[plans[i].threads] ?? .nan))
                }
            }
        }
    }
}
