import Foundation
import Engine
import Kernels

/// The 3D convolutions of the 3D presets (`segrun bench --kernels --dims 3`), each timed as the runtime runs it: one
/// conv3d node through the Engine's volume path (the depth taps stacked as channels, one 2D kernel call per output
/// slice, the threads taking whole slices; on a one-channel volume the narrow Winograd kernel reads the taps from the
/// volume instead, `ConvAttributes.planVolumeRun`), with every 2D algorithm that applies to the stacked geometry forced in turn. GFLOP/s count the
/// direct 3D convolution's multiply-adds, so Winograd shows as more than 100% of peak ("effective").
public enum VolumeKernelBenchmark {
    public struct Layer {
        public let name: String
        public let inChannels: Int
        public let outChannels: Int
        /// Input extent (D, H, W).
        public let size: [Int]
        public let kernel: [Int]
        public let stride: [Int]
    }

    /// The layer shapes of `unet3d-s` on its 64^3 sliding window (encoder, bottleneck and a decoder conv after the
    /// concat, the first layer and the 1x1x1 head), `vnet-s` (5x5x5 stages and the 2x2x2 stride-2 down convolution)
    /// and `res-unet3d-s` on anisotropic data (1x3x3 in-plane and 3x1x1 through-plane convolutions).
    public static func presetLayers() -> [Layer] {
        func layer(_ k: [Int], _ cin: Int, _ cout: Int, _ size: [Int], stride: [Int] = [1, 1, 1], preset: String) -> Layer {
            let kernel = k.map(String.init).joined(separator: "x") + (stride == [1, 1, 1] ? "" : "/\(stride[0])")
            let extent = Set(size).count == 1 ? "\(size[0])" : size.map(String.init).joined(separator: "x")
            return Layer(name: "\(kernel) \(cin)->\(cout) @\(extent) \(preset)", inChannels: cin, outChannels: cout, size: size, kernel: k, stride: stride)
        }
        let cube = [3, 3, 3]
        return [
            layer(cube, 1, 16, [64, 64, 64], preset: "unet3d-s"),
            layer(cube, 16, 16, [64, 64, 64], preset: "unet3d-s"),
            layer(cube, 32, 32, [32, 32, 32], preset: "unet3d-s"),
            layer(cube, 64, 64, [16, 16, 16], preset: "unet3d-s"),
            layer(cube, 128, 128, [8, 8, 8], preset: "unet3d-s"),
            layer(cube, 256, 256, [4, 4, 4], preset: "unet3d-s"),
            layer(cube, 32, 16, [64, 64, 64], preset: "unet3d-s"),
            layer([1, 1, 1], 16, 3, [64, 64, 64], preset: "unet3d-s"),
            layer([5, 5, 5], 16, 16, [64, 64, 64], preset: "vnet-s"),
            layer([5, 5, 5], 32, 32, [32, 32, 32], preset: "vnet-s"),
            layer([2, 2, 2], 16, 32, [64, 64, 64], stride: [2, 2, 2], preset: "vnet-s"),
            layer([1, 3, 3], 32, 32, [16, 64, 64], preset: "res-unet3d-s"),
            layer([3, 1, 1], 32, 32, [16, 64, 64], preset: "res-unet3d-s"),
            layer([1, 1, 1], 64, 64, [32, 32, 32], preset: "res-unet3d-s"),
        ]
    }

    /// Measures each algorithm (or only `only`) on each layer at each thread count; the thread counts take turns.
    public static func run(layers: [Layer], threadCounts: [Int], only: ConvAlgorithm? = nil, peaks: [Int: Double],
                           minSeconds: Double = 0.25, report: (KernelMeasurement) -> Void) throws {
        for layer in layers {
            let b = GraphBuilder(seed: 42)
            let x = b.input("volume", channels: layer.inChannels, spatialRank: 3)
            let padding = layer.stride == [1, 1, 1] ? layer.kernel.map { ($0 - 1) / 2 } : [0, 0, 0]
            b.output("y", b.conv(x, layer.outChannels, kernel: layer.kernel, stride: layer.stride, padding: padding, name: "conv"))
            let shape = TensorShape(batch: 1, channels: layer.inChannels, depth: layer.size[0], height: layer.size[1], width: layer.size[2])
            var input = Tensor(zeros: shape)
            var rng = BenchmarkRandom(seed: 7)
            for i in 0..<input.data.count { input.data[i] = Float.random(in: -1...1, using: &rng) }
            var seen: Set<String> = []
            for algorithm in [ConvAlgorithm.igemm, .gemm1x1] + WinogradVariant.all.map(ConvAlgorithm.winograd) + [.winogradNarrow] where only == nil || only == algorithm {
                var runs: [(threads: Int, plan: ExecutionPlan)] = []
                var used = ""
                for threads in threadCounts {
                    let executor = try Executor(b.graph, threads: threads, policy: .forced(algorithm))
                    let plan = try executor.plan([shape])
                    used = plan.convolutionChoices.first.map { "\($0.algorithm)" } ?? "\(algorithm)"
                    _ = try executor.run(input)
                    runs.append((threads, plan))
                }
                // A forced algorithm that does not apply falls back to another: measure each one once.
                if seen.contains(used) { continue }
                seen.insert(used)
                let node = b.graph.nodes.count - 1
                let once = runs.map { $0.plan.executeTimed()[node] }.reduce(0, +)
                let rounds = max(3, min(40, Int(minSeconds * Double(runs.count) / max(once, 1e-6))))
                var times = [[Double]](repeating: [], count: runs.count)
                for _ in 0..<rounds { for i in runs.indices { times[i].append(runs[i].plan.executeTimed()[node]) } }
                for i in runs.indices {
                    let median = times[i].sorted()[times[i].count / 2]
                    let gflops = runs[i].plan.flops / median / 1e9
                    report(KernelMeasurement(name: layer.name, algorithm: used, threads: runs[i].threads, medianSeconds: median,
                                             gflops: gflops, peakGflops: peaks[runs[i].threads] ?? .nan))
                }
            }
        }
    }
}
