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
    /// Activation parameters of an int8 model (nil: fp32).
    public let quantization: ActivationQuantization?
    /// Run the integer reference kernels (the spec) instead of the fast int8 ones.
    public let int8Reference: Bool
    private var plans: [[TensorShape]: ExecutionPlan] = [:]

    public init(_ graph: Graph, threads: Int = ParallelFor.coreCount, policy: AlgorithmPolicy = .measured,
                optimize: Bool = true, quantization: ActivationQuantization? = nil, int8Reference: Bool = false) throws(GraphError) {
        try graph.validate()
        // A quantized graph was optimized before calibration; its node names key the quantization table.
        self.graph = optimize && quantization == nil ? graph.optimizedForInference() : graph
        self.threads = max(1, min(threads, ParallelFor.maxThreads))
        self.policy = policy
        self.quantization = quantization
        self.int8Reference = int8Reference
    }

    /// An executor for a model: int8 when its metadata carries a quantization table, else fp32.
    public convenience init(model: Model, threads: Int = ParallelFor.coreCount, policy: AlgorithmPolicy = .measured,
                            int8Reference: Bool = false) throws(GraphError) {
        let table: ActivationQuantization?
        do { table = try model.activationQuantization() } catch { throw .shape(node: "model", "\(error)") }
        try self.init(model.graph, threads: threads, policy: policy, quantization: table, int8Reference: int8Reference)
    }

    /// The plan for these input shapes (made on first use).
    public func plan(_ inputs: [TensorShape]) throws(GraphError) -> ExecutionPlan {
        if let plan = plans[inputs] { return plan }
        try MemoryBudget.checkInputs(inputs)
        let plan: ExecutionPlan
        if let quantization {
            let policy = self.policy
            plan = try ExecutionPlan(graph: graph, quantization: quantization, inputs: inputs, threads: threads,
                                     reference: int8Reference) { g in
                switch policy {
                case .forced(let algorithm): return algorithm.orFallback(for: g)
                case .measured: return AlgorithmChoices.fp32[g] ?? ConvAlgorithm.candidates(for: g)[0]
                }
            }
            plans[inputs] = plan
            return plan
        }
        switch policy {
        case .forced(let algorithm):
            plan = try ExecutionPlan(graph: graph, inputs: inputs, threads: threads) { algorithm.orFallback(for: $0) }
        case .measured:
            try measureInContext(inputs)
            plan = try ExecutionPlan(graph: graph, inputs: inputs, threads: threads) { g in
                AlgorithmChoices.fp32[g] ?? ConvAlgorithm.candidates(for: g)[0]
            }
        }
        plans[inputs] = plan
        return plan
    }

    /// Times every convolution whose geometry has no remembered choice, once per algorithm family, in runs of
    /// the network's convolutions of that family (in the network's order, on its arena), and remembers each
    /// geometry's fastest algorithm. The geometries are the
    /// ones the plan runs (`PreparedOp.convolution`): a volume's convolution runs a 2D geometry per slice,
    /// with its depth taps as channels.
    private func measureInContext(_ inputs: [TensorShape]) throws(GraphError) {
        var families: [ConvAlgorithm] = [.igemm], open: [Conv2dGeometry] = []
        var best: [Conv2dGeometry: (algorithm: ConvAlgorithm, seconds: Double)] = [:]
        var next = 0
        while next < families.count {
            let family = families[next]
            next += 1
            // A layer this family cannot compute runs the fastest algorithm timed so far (the first family,
            // igemm, computes them all), not the family's fallback: its time is not recorded, and a gemm1x1 trial
            // would otherwise run every 3x3 layer of the network by igemm again.
            let trial = try ExecutionPlan(graph: graph, inputs: inputs, threads: threads) { g in
                if let chosen = AlgorithmChoices.fp32[g] { return chosen }
                let own = family.orFallback(for: g)
                return own == family ? own : best[g]?.algorithm ?? own
            }
            if next == 1 {
                for op in trial.ops {
                    if let g = op.convolution?.geometry, AlgorithmChoices.fp32[g] == nil, !open.contains(g) { open.append(g) }
                }
                if open.isEmpty { return }
                for g in open { for c in ConvAlgorithm.candidates(for: g) where !families.contains(c) { families.append(c) } }
            }
            // Only the convolutions this family computes run (the first family's: every one); the other nodes' times
            // are not recorded, and a convolution's time does not depend on its operands' values.
            let timed = trial.ops.map { op in op.convolution.map { $0.algorithm == family && open.contains($0.geometry) } ?? false }
            _ = trial.executeTimed(only: timed)
            var runs: [[Double]] = []
            for _ in 0..<3 { runs.append(trial.executeTimed(only: timed)) }
            for (i, op) in trial.ops.enumerated() {
                guard let g = op.convolution?.geometry, open.contains(g), op.convolution?.algorithm == family else { continue }
                let times = [runs[0][i], runs[1][i], runs[2][i]].sorted()
                if best[g] == nil || times[1] < best[g]!.seconds { best[g] = (family, times[1]) }
            }
        }
        for (g, choice) in best { AlgorithmChoices.fp32[g] = choice.algorithm }
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
