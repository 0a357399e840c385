import Kernels

/// Runs a graph: optimizes it once (BatchNorm folding, activation fusion, dead-node removal), plans
/// once per input shape (cached), and executes plans on a fixed number of threads.
///
/// Inputs and outputs are NCHW `Tensor`s. Outputs are the graph's outputs in order (logits for the
/// segmentation architectures). Results are bitwise identical for any thread count, given the same
/// algorithm choices (the measured choice is made once per geometry per process, independent of threads).
public final class Executor {
    public let graph: Graph
    public let threads: Int
    public let policy: AlgorithmPolicy
    private var plans: [[TensorShape]: ExecutionPlan] = [:]

    public init(_ graph: Graph, threads: Int = ParallelFor.coreCount, policy: AlgorithmPolicy = .measured,
                optimize: Bool = true) throws(GraphError) {
        try graph.validate()
        self.graph = optimize ? graph.optimizedForInference() : graph
        self.threads = max(1, threads)
        self.policy = policy
    }

    /// The plan for these input shapes (made on first use).
    public func plan(_ inputs: [TensorShape]) throws(GraphError) -> ExecutionPlan {
        if let plan = plans[inputs] { return plan }
        let plan = try ExecutionPlan(graph: graph, inputs: inputs, threads: threads, policy: policy)
        plans[inputs] = plan
        return plan
    }

    public func run(_ input: Tensor) throws(GraphError) -> [Tensor] { try run([input]) }

    public func run(_ inputs: [Tensor]) throws(GraphError) -> [Tensor] {
        var shapes: [TensorShape] = []
        for t in inputs { shapes.append(t.shape) }
        let plan = try self.plan(shapes)
        let inputNodes = graph.inputNodes
        for (k, t) in inputs.enumerated() {
            t.data.withUnsafeBufferPointer { LayoutConversion.nchwToNHWC($0.baseAddress!, t.shape, into: plan.pointer(inputNodes[k])) }
        }
        plan.execute()
        var outputs: [Tensor] = []
        for node in plan.outputNodes {
            var t = Tensor(zeros: plan.shapes[node])
            t.data.withUnsafeMutableBufferPointer { LayoutConversion.nhwcToNCHW(plan.pointer(node), t.shape, into: $0.baseAddress!) }
            outputs.append(t)
        }
        return outputs
    }
}
