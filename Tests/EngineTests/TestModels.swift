import Engine
import KernelChecks

/// Shared helpers for the Engine tests.
enum TestModels {
    /// A preset's architecture at a small width (base 4), so the Float64 reference stays fast in
    /// debug builds while every block, skip and head of the preset is present.
    static func smallConfig(_ preset: ArchitecturePreset, classes: Int = 1, inChannels: Int = 1) -> ArchitectureConfig {
        var c = preset.config
        c.baseWidth = 4
        c.depth = min(c.depth, 3)
        c.classes = classes
        c.inChannels = inChannels
        c.seed = 7
        return c
    }

    /// Gives every BatchNorm non-trivial statistics, so folding is really tested.
    static func randomizeNormalization(_ graph: inout Graph, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for node in graph.nodes {
            guard case .batchNorm(let a) = node.op else { continue }
            let c = graph.parameters[a.gamma].elementCount
            graph.parameters[a.gamma].data = .f32((0..<c).map { _ in Float.random(in: 0.5..<1.5, using: &rng) })
            graph.parameters[a.beta].data = .f32((0..<c).map { _ in Float.random(in: -0.2..<0.2, using: &rng) })
            graph.parameters[a.mean].data = .f32((0..<c).map { _ in Float.random(in: -0.1..<0.1, using: &rng) })
            graph.parameters[a.variance].data = .f32((0..<c).map { _ in Float.random(in: 0.5..<1.5, using: &rng) })
        }
    }

    static func randomImage(_ shape: TensorShape, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, data: rng.floats(shape.elementCount))
    }

    /// max |got - ref| / max |ref|: the error relative to the output's scale.
    static func normalizedError(_ got: Tensor, _ ref: Tensor) -> Double {
        var worst = 0.0, scale = 0.0
        for i in 0..<ref.data.count {
            worst = max(worst, Double(abs(got.data[i] - ref.data[i])))
            scale = max(scale, Double(abs(ref.data[i])))
        }
        if got.data.contains(where: { $0.isNaN }) { return .infinity }
        return worst / max(scale, 1e-30)
    }
}
