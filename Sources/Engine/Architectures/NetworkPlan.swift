/// A 3D network fitted to a dataset, as nnU-Net's planner does it: the kernels and pooling of each level
/// follow the voxel spacing, and the training patch is the largest that fits a memory budget.
///
/// Topology: at each level an axis whose spacing is 2x or more the finest (at that level) gets kernel 1 and is
/// not pooled, so a 5 mm axis waits until in-plane pooling has brought the 1 mm axes up to 2.5 mm; the
/// bottleneck is 3 on every axis. Patch: from the median case size (at the target spacing), the physically
/// longest axis shrinks by one input multiple at a time until the estimated training memory fits.
public struct NetworkPlan: Equatable {
    /// Per level (0 = full resolution, `depth` = bottleneck), D, H, W.
    public var levelKernels: [[Int]]
    /// Per down-step.
    public var levelPools: [[Int]]

    /// The topology for voxels of `spacing` (D, H, W order: z, y, x) and `depth` down-steps.
    public init(spacing: [Double], depth: Int) {
        var current = spacing, kernels: [[Int]] = [], pools: [[Int]] = []
        for level in 0...depth {
            let finest = current.min() ?? 1
            let coarse = current.map { $0 >= 2 * finest }
            kernels.append(level == depth ? [3, 3, 3] : coarse.map { $0 ? 1 : 3 })
            if level < depth {
                let pool = coarse.map { $0 ? 1 : 2 }
                pools.append(pool)
                for a in 0..<3 { current[a] *= Double(pool[a]) }
            }
        }
        levelKernels = kernels
        levelPools = pools
    }

    /// Whether the topology differs from the isotropic one (3 everywhere, pooling 2 everywhere).
    public var isAnisotropic: Bool { levelPools.contains { $0.contains(1) } || levelKernels.contains { $0.contains(1) } }

    /// Bytes a training step of `graph` at this patch and batch holds, estimated: every
    /// node's output is kept for the backward pass and gets a gradient of the same size (2 floats per element),
    /// plus a third for the transient buffers (the depth-stacked inputs of the convolutions, workspaces).
    public static func trainingBytes(_ graph: Graph, channels: Int, patch: [Int], batch: Int) throws(GraphError) -> Int {
        let shape = TensorShape(batch: batch, channels: channels, depth: patch[0], height: patch[1], width: patch[2])
        let elements = try graph.statistics([shape]).reduce(0) { $0 + $1.shape.elementCount }
        return elements * 4 * 3
    }

    /// The patch (D, H, W) for a 3D network (`graph`, its input channels and multiple) whose training step at
    /// `batch` fits `budget` bytes: from `median` (each axis rounded down to the multiple, at most `maximum`),
    /// the axis of largest physical extent (extent x spacing) shrinks by one multiple at a time. Returns it with
    /// its estimated bytes.
    public static func patch(_ graph: Graph, channels: Int, multiple m: Int, median: [Int], spacing: [Double], batch: Int, budget: Int,
                             maximum: Int = 256) throws(GraphError) -> (patch: [Int], bytes: Int) {
        var patch = median.map { max(m, min(maximum, $0) / m * m) }
        while true {
            let bytes = try trainingBytes(graph, channels: channels, patch: patch, batch: batch)
            var axis = -1
            for a in 0..<3 where patch[a] > m && (axis < 0 || Double(patch[a]) * spacing[a] > Double(patch[axis]) * spacing[axis]) { axis = a }
            if bytes <= budget || axis < 0 { return (patch, bytes) }
            patch[axis] -= m
        }
    }
}
