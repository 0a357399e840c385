import Kernels

/// Reverse-mode differentiation of an Engine `Graph`: `forward` runs the graph in training mode
/// (BatchNorm on batch statistics, updating its running statistics) and keeps the activations a backward
/// reads (on volumes, BatchNorm, concatenation and cheap convolution outputs are freed and recomputed:
/// `RecomputedActivations`, and each output is released once the backward no longer reads it:
/// `ReleasedActivations`); `backward` takes the gradients of the outputs and accumulates the gradient of every
/// parameter.
///
/// Activations are NHWC internally; inputs, outputs and output gradients are NCHW `Tensor`s. Each
/// kernel sums in a fixed order and threads split work by fixed arithmetic, so gradients are the same
/// for any thread count.
public final class Autograd {
    public private(set) var graph: Graph
    public let threads: Int
    /// Gradient of every parameter (f32 values, same layout), accumulated by `backward`.
    public private(set) var gradients: [[Float]]
    /// Algorithms of the forward and input-gradient convolutions (igemm by default; training sets `.auto`).
    public var convolutions: TrainingConvolutions = .uniform(.igemm)

    /// Every node's output from the last forward pass (NHWC); empty for a dropped training BatchNorm output
    /// (`RecomputedActivations`). Read them through `values`, which recomputes a dropped one.
    var stored: [[Float]] = []
    /// The forward outputs, as operators read them (`values[j]`).
    var values: ActivationStore { ActivationStore(tape: self) }
    var recomputed = RecomputedActivations()
    var released = ReleasedActivations()
    var shapes: [TensorShape] = []
    var maxPoolIndices: [Int: [Int32]] = [:]
    var batchNormSaved: [Int: F32BatchNormTraining.Saved] = [:]
    var training = true
    /// The node whose output gradient `backward(_:capturing:)` returns (its input gradient is then needed).
    var capturing: Int? = nil
    /// Seconds spent in each node's forward and backward, summed over calls, when not nil (for
    /// `segrun bench --train --nodes`; set it to zeros for `graph.nodes.count` nodes to start measuring).
    public var nodeTimes: [(forward: Double, backward: Double)]? = nil
    var batchNormActivations: [Int: FusedActivation] = [:]
    var fusedActivationNodes = Set<Int>()
    /// Floats of stacked input a 3D convolution holds at a time (its depth taps stacked as channels, a block of
    /// output slices at a time: `StackedBlocks`); 8 Mi floats is 32 MiB, against `kd` times the whole input.
    public var stackingBlockFloats = 8 << 20
    /// Whether training drops each BatchNorm's, concatenation's and cheap convolution's output once the forward
    /// nodes that read it have run, and recomputes it when a backward reads it (`RecomputedActivations`). nil (the default): on
    /// volumes, where a 3D U-Net's saved activations are gigabytes, off on images, where the extra pass would
    /// cost time for little memory. The gradients have the same bits either way.
    public var recomputeActivations: Bool? = nil
    /// Whether a training backward releases each forward output once no backward still to run reads it
    /// (`ReleasedActivations`); the next forward then allocates its outputs again. nil (the default): on
    /// volumes, as `recomputeActivations`. The gradients have the same bits either way.
    public var releaseActivations: Bool? = nil
    /// BatchNorm momentum for the running statistics (PyTorch's default).
    public var batchNormMomentum: Float = 0.1
    /// Data-parallel training: sums BatchNorm's statistics and gradient sums over every process, so training
    /// BatchNorm normalizes with the global batch's statistics (synchronized BatchNorm). nil: this batch's.
    public var batchNormSynchronizer: F32BatchNormTraining.Synchronizer? = nil

    /// With `fuseActivations`, an activation node whose only operand is a BatchNorm that feeds nothing
    /// else runs inside that BatchNorm (one pass over the data instead of two, forward and backward); the
    /// BatchNorm node's value is then the activated one. Training sets it; explanations, which may look
    /// at any node, do not.
    public init(_ graph: Graph, threads: Int = ParallelFor.coreCount, fuseActivations: Bool = false) throws(GraphError) {
        try graph.validate()
        for p in graph.parameters {
            guard case .f32 = p.data else { throw .shape(node: p.name, "training needs f32 parameters") }
        }
        self.graph = graph
        self.threads = max(1, threads)
        gradients = graph.parameters.map { [Float](repeating: 0, count: $0.elementCount) }
        if fuseActivations { (batchNormActivations, fusedActivationNodes) = Autograd.activationsToFuse(graph) }
    }

    /// BatchNorm nodes that run a following activation node, and those activation nodes.
    static func activationsToFuse(_ graph: Graph) -> ([Int: FusedActivation], Set<Int>) {
        var consumers = [Int](repeating: 0, count: graph.nodes.count)
        for node in graph.nodes { for j in node.inputs { consumers[j] += 1 } }
        for o in graph.outputs { consumers[o.node] += 1 }
        var fused: [Int: FusedActivation] = [:], activations = Set<Int>()
        for (k, node) in graph.nodes.enumerated() {
            guard case .activation(let kind) = node.op, node.inputs.count == 1 else { continue }
            let j = node.inputs[0]
            guard case .batchNorm(let a) = graph.nodes[j].op, a.activation == .none, consumers[j] == 1 else { continue }
            switch kind {
            case .relu: fused[j] = .relu
            case .leakyRelu(let slope): fused[j] = .leakyRelu(slope: slope)
            case .sigmoid: continue
            }
            activations.insert(k)
        }
        return (fused, activations)
    }

    /// The activation BatchNorm node `i` applies: its own, or the fused following node's.
    func batchNormActivation(_ i: Int, _ a: BatchNormAttributes) -> FusedActivation {
        a.activation != .none ? a.activation : batchNormActivations[i] ?? .none
    }

    /// The algorithm for convolution `g` (`TrainingConvolutions.algorithm(for:)`).
    func algorithm(for g: Conv2dGeometry) -> ConvAlgorithm { convolutions.algorithm(for: g) }

    /// Current value of parameter `i`.
    public func parameter(_ i: Int) -> [Float] { graph.parameters[i].floats }

    /// Replaces the values of parameter `i` (optimizers write through this).
    /// Changes the accumulated gradients in place (data-parallel training sums them over processes).
    public func updateGradients(_ body: (inout [[Float]]) -> Void) {
        body(&gradients)
    }

    public func setParameter(_ i: Int, _ values: [Float]) {
        precondition(values.count == graph.parameters[i].elementCount, "parameter \(graph.parameters[i].name): wrong count")
        graph.parameters[i].data = .f32(values)
    }

    /// Lets `body` change parameter `i` in place (no copy of the array: optimizers call this every step).
    public func updateParameter(_ i: Int, _ body: (inout [Float], [Float]) -> Void) {
        guard case .f32(var values) = graph.parameters[i].data else { return }
        graph.parameters[i].data = .f32([])
        body(&values, gradients[i])
        graph.parameters[i].data = .f32(values)
    }

    public func zeroGradients() {
        for i in 0..<gradients.count { gradients[i].withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
    }

    /// Indices of the parameters an optimizer updates (BatchNorm running statistics are not learned).
    public var learnableParameters: [Int] {
        var statistics = Set<Int>()
        for node in graph.nodes { if case .batchNorm(let a) = node.op { statistics.insert(a.mean); statistics.insert(a.variance) } }
        return (0..<graph.parameters.count).filter { !statistics.contains($0) }
    }

    // MARK: forward

    /// Runs the graph. `training` uses batch statistics in BatchNorm (and updates the running ones).
    public func forward(_ inputs: [Tensor], training: Bool = true) throws(GraphError) -> [Tensor] {
        self.training = training
        shapes = try graph.inferShapes(inputs.map { $0.shape })
        // Reuse last step's activation arrays when the shapes repeat (every training step on images; on volumes
        // the backward released them): allocating fresh ones cost about 15% of a step in page faults.
        var previous = stored
        stored = []
        let volumes = inputs.contains { $0.shape.depth != nil }
        recomputed = training && (recomputeActivations ?? volumes)
            ? RecomputedActivations(graph, fused: batchNormActivations) : RecomputedActivations()
        released = training && (releaseActivations ?? volumes) ? ReleasedActivations(graph, fusedActivations: fusedActivationNodes) : ReleasedActivations()
        // A fused activation node shares its BatchNorm's array; drop that reference so the BatchNorm can
        // reuse the array in place.
        for k in fusedActivationNodes where k < previous.count { previous[k] = [] }
        maxPoolIndices = [:]
        batchNormSaved = [:]
        var nextInput = 0
        for (i, node) in graph.nodes.enumerated() {
            if fusedActivationNodes.contains(i) {
                stored.append(stored[node.inputs[0]])  // shares the BatchNorm's (activated) array
                dropOutputsLastRead(by: i)
                continue
            }
            if skipsConcatenation(i) {
                stored.append([])  // read through its operands by its one reader (`ConcatenationReadThrough`)
                dropOutputsLastRead(by: i)
                continue
            }
            var out: [Float]
            if i < previous.count && previous[i].count == shapes[i].elementCount {
                out = previous[i]
                previous[i] = []
            } else {
                out = Autograd.uninitialized(shapes[i].elementCount)  // a training forward writes every element
            }
            if case .input = node.op {
                let t = inputs[nextInput]
                nextInput += 1
                t.data.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { LayoutConversion.nchwToNHWC(s.baseAddress!, t.shape, into: $0.baseAddress!) } }
            } else {
                let start = nodeTimes == nil ? 0 : MonotonicClock.now()
                try forwardNode(i, node, &out)
                if nodeTimes != nil { nodeTimes![i].forward += MonotonicClock.now() - start }
            }
            stored.append(out)
            dropOutputsLastRead(by: i)
        }
        return graph.outputs.map { o in
            var t = Tensor(zeros: shapes[o.node])
            stored[o.node].withUnsafeBufferPointer { s in t.data.withUnsafeMutableBufferPointer { LayoutConversion.nhwcToNCHW(s.baseAddress!, t.shape, into: $0.baseAddress!) } }
            return t
        }
    }

    private func forwardNode(_ i: Int, _ node: Node, _ out: inout [Float]) throws(GraphError) {
        var visitor = TrainingForwardVisitor(tape: self, node: i)
        swap(&visitor.output, &out)
        defer { swap(&visitor.output, &out) }
        try node.op.visit(&visitor)
    }

    func runTransposed(_ plan: F32ConvTranspose.Plan, _ x: [Float], _ out: inout [Float], inStride: Int, outStride: Int, batch: Int) {
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
            plan.run(input: xp.baseAddress!, output: op.baseAddress!, batch: batch, inStride: inStride, outStride: outStride, threads: threads)
        } }
    }

    // MARK: backward

    /// Back-propagates `outputGradients` (NCHW, one per graph output; nil for outputs without a loss)
    /// and adds every parameter's gradient into `gradients`. `nodeGradients` adds losses on inner nodes
    /// (UNet 3+'s presence logits), NCHW in each node's shape.
    public func backward(_ outputGradients: [Tensor?], nodeGradients: [(node: Int, gradient: Tensor)] = []) throws(GraphError) {
        try backward(outputGradients, nodeGradients: nodeGradients, capturing: nil)
    }

    /// The output of node `node` from the last forward pass, NCHW.
    public func activation(of node: Int) -> Tensor {
        var t = Tensor(zeros: shapes[node])
        values[node].withUnsafeBufferPointer { s in t.data.withUnsafeMutableBufferPointer { LayoutConversion.nhwcToNCHW(s.baseAddress!, t.shape, into: $0.baseAddress!) } }
        return t
    }

    /// Back-propagates like `backward(_:)` and returns the gradient that reached node `capturing`'s
    /// output (NCHW; zeros when none did), for explanations such as Grad-CAM.
    @discardableResult
    public func backward(_ outputGradients: [Tensor?], nodeGradients: [(node: Int, gradient: Tensor)] = [],
                         capturing: Int?) throws(GraphError) -> Tensor? {
        precondition(!stored.isEmpty, "backward needs a forward pass first")
        self.capturing = capturing
        defer { self.capturing = nil }
        var captured: Tensor? = capturing.map { Tensor(zeros: shapes[$0]) }
        var grads = [[Float]?](repeating: nil, count: graph.nodes.count)
        var seeds: [(node: Int, gradient: Tensor)] = nodeGradients
        for (k, o) in graph.outputs.enumerated() {
            if let t = outputGradients[k] { seeds.append((o.node, t)) }
        }
        for (node, t) in seeds {
            if t.shape != shapes[node] { throw .shape(node: graph.nodes[node].name, "gradient \(t.shape) for output \(shapes[node])") }
            var g = [Float](repeating: 0, count: t.shape.elementCount)
            t.data.withUnsafeBufferPointer { s in g.withUnsafeMutableBufferPointer { LayoutConversion.nchwToNHWC(s.baseAddress!, t.shape, into: $0.baseAddress!) } }
            Autograd.accumulate(&grads[node], g)
        }
        for i in stride(from: graph.nodes.count - 1, through: 0, by: -1) {
            defer { if let nodes = released.after[i] { for j in nodes { stored[j] = [] } } }
            guard let dy = grads[i] else { continue }
            grads[i] = nil
            if i == capturing {
                dy.withUnsafeBufferPointer { s in captured!.data.withUnsafeMutableBufferPointer { LayoutConversion.nhwcToNCHW(s.baseAddress!, shapes[i], into: $0.baseAddress!) } }
            }
            let start = nodeTimes == nil ? 0 : MonotonicClock.now()
            try backwardNode(i, graph.nodes[i], dy, &grads)
            if nodeTimes != nil { nodeTimes![i].backward += MonotonicClock.now() - start }
            // No backward after a BatchNorm's own reads its output again.
            if let group = recomputed.group[i], group.node == i { for k in group.nodes { stored[k] = [] } }
        }
        return captured
    }

    /// An array of `count` floats that the caller overwrites entirely: zeroing big gradient arrays first
    /// cost a serial pass over memory each (about 30 ms per unet-s step at 256x256).
    /// In debug builds (the tests) the array is filled with NaN, so a kernel that reads an element it did not
    /// write spreads NaN into the results the tests check.
    static func uninitialized(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            #if DEBUG
            buffer.initialize(repeating: .nan)
            #endif
            initialized = count
        }
    }

    static func accumulate(_ slot: inout [Float]?, _ g: [Float]) {
        guard var sum = slot else { slot = g; return }
        slot = nil
        add(g, into: &sum)
        slot = sum
    }

    func addGradient(_ parameter: Int, _ g: [Float]) {
        Autograd.add(g, into: &gradients[parameter])
    }

    /// `sum[k] += g[k]`, vectorized.
    static func add(_ g: [Float], into sum: inout [Float]) {
        precondition(g.count == sum.count, "gradient size mismatch")
        g.withUnsafeBufferPointer { gp in sum.withUnsafeMutableBufferPointer { sp in
            let a = gp.baseAddress!, b = sp.baseAddress!
            F32Elementwise.add(UnsafePointer(b), a, output: b, range: 0..<gp.count)
        } }
    }
}

/// Runs one node's training forward through its operator family, into `output` (moved in and out, not copied).
private struct TrainingForwardVisitor: OperatorVisitor {
    let tape: Autograd
    let node: Int
    var output: [Float] = []
    mutating func visit<O: OperatorDefinition>(_ op: O) throws(GraphError) { try op.trainingForward(tape, node: node, output: &output) }
}
