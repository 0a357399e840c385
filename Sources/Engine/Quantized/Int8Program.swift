import Kernels

/// A quantized graph scheduled for one set of input shapes: a list of steps over values that are
/// either UInt8 (with their tensor parameters) or Float. Nodes with 8-bit outputs run int8 kernels;
/// the others (float islands of a mixed-precision model: sigmoid gates, average pools, kept layers)
/// run the fp32 operators, and quantize/dequantize steps are inserted wherever a value crosses
/// between the two. Inputs arrive as Float and graph outputs leave as Float.
///
/// With `reference: true` the convolutions and max pools run `Q8Reference`'s integer loops instead
/// of the GEMM kernels: the reference int8 executor that the fast one must equal bit for bit.
public final class Int8Program {
    enum Domain: Hashable {
        case float
        case q8(Q8TensorParameters)
    }

    struct ConvData {
        var weights: [Int8]
        var bias: [Int32]?
        var multipliers: [Float]
        var inputZeroPoint: UInt8
        var activation: FusedActivation
        var target: Q8OutputTarget
    }

    /// One int8 (or conversion, or fp32) step: the closure that runs it on its operands.
    struct Kernel {
        let run: (Int8StepOperands) -> Void
    }

    struct Step {
        var kernel: Kernel
        var operands: [Int]
        var output: Int
        /// The graph node this step computes or feeds (for profiles).
        var node: Int
    }

    struct Value {
        var shape: TensorShape
        var domain: Domain
        var bytes: Int { shape.elementCount * (domain == .float ? 4 : 1) }
    }

    private(set) var values: [Value] = []
    private(set) var steps: [Step] = []
    /// The Float value holding each graph input node, and each graph output node.
    private(set) var inputValues: [Int: Int] = [:]
    private(set) var outputValues: [Int: Int] = [:]
    private(set) var offsets: [Int] = []
    private(set) var arena = AlignedBuffer(count: 0)
    private(set) var workspace = AlignedBuffer(count: 0)
    let threads: Int
    var packedWeightBytes = 0
    private(set) var workspaceBytes = 0
    private(set) var unsharedBytes = 0
    var flops = 0.0
    /// Nodes that run in float, by name (for reports).
    private(set) var floatNodes: [String] = []

    /// The graph, its quantization table and every node's shape (what the families' `lowerInt8` read).
    let graph: Graph
    let quantization: ActivationQuantization
    let shapes: [TensorShape]
    let reference: Bool
    let choose: (Conv2dGeometry) -> ConvAlgorithm
    private var nodeValue: [Int] = []
    private var conversions: [Int: [Domain: Int]] = [:]
    private var workspaceFloats = 0
    /// Per-thread scratch bytes the largest int8 kernel needs.
    var scratchBytes = 0

    init(graph: Graph, quantization: ActivationQuantization, inputs: [TensorShape], threads: Int, reference: Bool,
         choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) {
        self.threads = threads
        self.graph = graph
        self.quantization = quantization
        self.reference = reference
        self.choose = choose
        shapes = try graph.inferShapes(inputs)
        for (index, node) in graph.nodes.enumerated() {
            let shape = shapes[index]
            if case .input = node.op {
                nodeValue.append(addValue(shape, .float))
                inputValues[index] = nodeValue[index]
                continue
            }
            var visitor = Int8LoweringVisitor(program: self, node: index)
            if let value = try node.op.visit(&visitor) {
                nodeValue.append(value)
                continue
            }
            // A float island: float operands, the fp32 operator, a Float output.
            var operands: [Int] = []
            for j in node.inputs { operands.append(value(of: j, in: .float, node: index)) }
            let prepared = try ExecutionPlan.prepare(node, graph: graph, operands: node.inputs.map { shapes[$0] }, output: shape,
                                                     threads: threads, choose: choose)
            workspaceFloats = max(workspaceFloats, prepared.workspaceFloats)
            packedWeightBytes += prepared.packedWeightBytes
            flops += prepared.flops
            floatNodes.append(node.name)
            let run = prepared.run
            nodeValue.append(addStep(Kernel { r in
                run(FloatOperands(inputs: r.operands.map { $0.assumingMemoryBound(to: Float.self) }, inputShapes: r.operandShapes,
                                  output: r.output.assumingMemoryBound(to: Float.self), shape: r.shape,
                                  workspace: r.workspace.assumingMemoryBound(to: Float.self), threads: r.threads))
            }, operands, index, shape, .float))
        }
        for output in graph.outputs {
            outputValues[output.node] = value(of: output.node, in: .float, node: output.node)
        }
        try planMemory(graph, inputs: inputs)
    }

    // MARK: building

    private func addValue(_ shape: TensorShape, _ domain: Domain) -> Int {
        values.append(Value(shape: shape, domain: domain))
        return values.count - 1
    }

    func addStep(_ kernel: Kernel, _ operands: [Int], _ node: Int, _ shape: TensorShape, _ domain: Domain) -> Int {
        let v = addValue(shape, domain)
        steps.append(Step(kernel: kernel, operands: operands, output: v, node: node))
        return v
    }

    /// Node `j`'s output in `domain`, converting (once, then reused) when it was produced in another.
    func value(of j: Int, in domain: Domain, node: Int) -> Int {
        let own = nodeValue[j]
        let have = values[own].domain
        if have == domain { return own }
        if let cached = conversions[j]?[domain] { return cached }
        let kernel: Kernel
        switch (have, domain) {
        case (.float, .q8(let p)): kernel = Int8Program.quantize(p)
        case (.q8(let p), .float): kernel = Int8Program.dequantize(p)
        case (.q8(let from), .q8(let to)): kernel = Int8Program.requantize(from: from, to: to)
        case (.float, .float): return own
        }
        let v = addStep(kernel, [own], node, values[own].shape, domain)
        conversions[j, default: [:]][domain] = v
        return v
    }

    /// Node `j`'s output as UInt8: as produced, or quantized with its table entry; nil when it has neither.
    func q8Value(_ j: Int) -> (value: Int, parameters: Q8TensorParameters)? {
        if case .q8(let p) = values[nodeValue[j]].domain { return (nodeValue[j], p) }
        guard let p = quantization[graph.nodes[j].name] else { return nil }
        return (value(of: j, in: .q8(p), node: j), p)
    }

    /// Int8 weights quantized symmetrically per output channel (`outputAxis`: 0 for OIHW, 1 for IOHW), or per tensor.
    func int8Weights(_ index: Int, outputAxis: Int) -> (values: [Int8], scales: [Float])? {
        let p = graph.parameters[index]
        guard case .i8(let w) = p.data, let q = p.quantization, q.axis == outputAxis || q.scales.count == 1,
              q.zeroPoints.allSatisfy({ $0 == 0 }) else { return nil }
        return (w, q.scales)
    }

    /// Multipliers and Int32 bias for a layer whose input has parameters `px`: the bias is re-expressed at
    /// scale `px.scale * weightScale[o]` from its real values, whatever scale it was stored at.
    func convData(_ w: (values: [Int8], scales: [Float]), _ biasIndex: Int?, _ px: Q8TensorParameters,
                          _ output: Q8TensorParameters?, _ activation: FusedActivation, channels: Int) -> ConvData {
        var multipliers: [Float] = [], bias: [Int32]? = nil
        let realBias = biasIndex.map { graph.parameters[$0].floats }
        if realBias != nil { bias = [] }
        for o in 0..<channels {
            let accumulatorScale = px.scale * w.scales[w.scales.count == 1 ? 0 : o]
            multipliers.append(output.map { accumulatorScale / $0.scale } ?? accumulatorScale)
            if let rb = realBias {
                let q = (rb[o] / accumulatorScale).rounded(.toNearestOrEven)
                bias!.append(Int32(max(-2.0e9, min(2.0e9, q.isFinite ? q : 0))))
            }
        }
        return ConvData(weights: w.values, bias: bias, multipliers: multipliers, inputZeroPoint: UInt8(px.zeroPoint),
                        activation: activation, target: output.map { .quantized(zeroPoint: $0.zeroPoint) } ?? .float)
    }

    /// Builds a kernel plan from a layer's int8 weights and Int32 bias, naming the node in errors.
    static func plan<P>(_ d: ConvData, _ node: Node,
                                _ make: (UnsafePointer<Int8>, UnsafePointer<Int32>?) throws(ShapeError) -> P) throws(GraphError) -> P {
        do {
            return try d.weights.withUnsafeBufferPointer { wp throws(ShapeError) in
                try withOptionalInt32(d.bias) { bp throws(ShapeError) in try make(wp.baseAddress!, bp) }
            }
        } catch { throw .shape(node: node.name, "\(error)") }
    }

    static func convPlan(_ g: Conv2dGeometry, _ d: ConvData, _ node: Node) throws(GraphError) -> Q8Conv2dPlan {
        try plan(d, node) { w, b throws(ShapeError) in
            try Q8Conv2dPlan(g, weights: w, bias: b, multipliers: d.multipliers, inputZeroPoint: d.inputZeroPoint,
                             activation: d.activation, output: d.target)
        }
    }

    static func winogradPlan(_ g: Conv2dGeometry, _ d: ConvData, _ node: Node, tile: Q8WinogradTile,
                             weightsPerRun: Bool = false, depthGroups: [Range<Int>]? = nil) throws(GraphError) -> Q8WinogradPlan {
        try plan(d, node) { w, b throws(ShapeError) in
            try Q8WinogradPlan(g, weights: w, bias: b, multipliers: d.multipliers, inputZeroPoint: d.inputZeroPoint,
                               activation: d.activation, output: d.target, tile: tile, weightsPerRun: weightsPerRun,
                               depthGroups: depthGroups)
        }
    }

    /// The GEMM convolution, or for 3x3 stride-1 layers whichever of GEMM, exact Winograd F(2x2,3x3) and (where
    /// the layer's weights make it exact) F(4x4,3x3) ran fastest on this geometry. All give identical results;
    /// timed once per geometry, thread count and F(4x4,3x3) exactness per process.
    enum ConvPlanChoice {
        case gemm(Q8Conv2dPlan)
        case winograd(Q8WinogradPlan)

        var scratchBytes: Int {
            switch self {
            case .gemm(let p): return p.scratchBytes
            case .winograd(let p): return p.scratchBytes
            }
        }

        /// Bytes of packed weights one image streams through: the int8 GEMM's panels, or Winograd's Int16
        /// transformed ones (16 positions for F(2x2,3x3), 36 for F(4x4,3x3): 3.6x and 8x the GEMM's).
        var weightBytes: Int {
            switch self {
            case .gemm(let p): return p.dotWeights?.packedBytes ?? p.weights.packedBytes
            case .winograd(let p): return p.packedBytes
            }
        }

        /// One image, split over `threads`.
        func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, scratch: UnsafeMutableRawPointer, threads: Int) {
            let per = scratchBytes
            switch self {
            case .gemm(let p):
                ParallelFor.run(count: p.workItems, threads: threads) { items, thread in
                    p.run(input: input, output: output, items: items, scratch: scratch + thread * per)
                }
            case .winograd(let p):
                ParallelFor.run(count: p.workItems, threads: threads) { items, thread in
                    p.run(input: input, output: output, items: items, scratch: scratch + thread * per)
                }
            }
        }
    }

    /// What streaming a layer's weights from memory costs it inside a model, per byte: in a ResNet-34 U-Net at
    /// 256x256 on a Zen 4, each 256->256 F(4x4,3x3) layer (4.7 MB of transformed weights) took 0.33 ms more than
    /// when timed alone, a 128->128 one (1.2 MB) 0.08 ms more: about 14 GB/s, added to each candidate's time.
    /// (Layers with few tiles have a candidate that reads only the int8 kernels: `.winogradF4WeightsPerRun`.)
    static let weightStreamBytesPerSecond = 14e9

    static func fastestConv(_ g: Conv2dGeometry, _ d: ConvData, _ node: Node, threads: Int) throws(GraphError) -> ConvPlanChoice {
        guard Q8WinogradPlan.supports(g) else {
            let gemm = try convPlan(g, d, node)
            gemm.splitColumns(forThreads: threads)
            return .gemm(gemm)
        }
        // F(4x4,3x3) runs where its exactness bound holds within a few depth groups; the group count is in the key
        // (each group adds an output transform per tile).
        let depthGroups = d.weights.withUnsafeBufferPointer {
            Q8WinogradPlan.f4DepthGroups(weights: $0.baseAddress!, inChannels: g.inChannels, outChannels: g.outChannels)
        }
        let f4Runs = depthGroups.count <= Q8WinogradPlan.maxF4DepthGroups
        let key = Int8ChoiceKey(geometry: g, threads: threads, f4Groups: f4Runs ? depthGroups.count : 0)
        func make(_ algorithm: Int8ConvAlgorithm) throws(GraphError) -> ConvPlanChoice {
            switch algorithm {
            case .gemm:
                let plan = try convPlan(g, d, node)
                plan.splitColumns(forThreads: threads)
                return .gemm(plan)
            case .winogradF2, .winogradF4, .winogradF4WeightsPerRun:
                let plan = try winogradPlan(g, d, node, tile: algorithm == .winogradF2 ? .f2 : .f4,
                                            weightsPerRun: algorithm == .winogradF4WeightsPerRun, depthGroups: depthGroups)
                // Winograd's pixel blocks are few (6 tiles of 16 pixels each): split columns into more items.
                plan.splitColumns(forThreads: threads, itemsPerThread: 8)
                return .winograd(plan)
            }
        }
        if let known = AlgorithmChoices.int8[key] { return try make(known) }
        var candidates: [Int8ConvAlgorithm] = f4Runs ? [.gemm, .winogradF2, .winogradF4] : [.gemm, .winogradF2]
        if f4Runs && Q8WinogradPlan.supportsWeightsPerRun(g) { candidates.append(.winogradF4WeightsPerRun) }
        var plans: [ConvPlanChoice] = []
        for algorithm in candidates { plans.append(try make(algorithm)) }
        var one = g
        one.batch = 1
        let input = AlignedBuffer(count: (one.inputShape.elementCount + 3) / 4 + 16)
        let bytes = UnsafeMutableRawPointer(input.pointer).assumingMemoryBound(to: UInt8.self)
        for i in 0..<one.inputShape.elementCount { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
        let output = AlignedBuffer(count: one.outputShape.elementCount + 16)
        let scratchBytes = plans.map { $0.scratchBytes }.max()!
        let scratch = AlignedBuffer(count: (scratchBytes * threads + 3) / 4)
        let raw = UnsafeMutableRawPointer(scratch.pointer), out = UnsafeMutableRawPointer(output.pointer)
        // Best of 3 runs each, the candidates interleaved so a burst of load on the host hits them alike.
        var best = [Double](repeating: .infinity, count: plans.count)
        for _ in 0..<3 {
            for (i, plan) in plans.enumerated() {
                let t0 = MonotonicClock.now()
                plan.run(input: bytes, output: out, scratch: raw, threads: threads)
                best[i] = min(best[i], MonotonicClock.now() - t0)
            }
        }
        // Timed back to back, a candidate finds its weights in cache; inside a model each layer's weights come from
        // memory (a ResNet-34's F(4x4,3x3) weights are 100+ MB), which these runs do not see.
        for i in plans.indices { best[i] += Double(plans[i].weightBytes) / weightStreamBytesPerSecond }
        let fastest = best.indices.min { best[$0] < best[$1] }!
        AlgorithmChoices.int8[key] = candidates[fastest]
        return plans[fastest]
    }

    static func convTransposePlan(_ g: ConvTranspose2dGeometry, _ d: ConvData, _ node: Node) throws(GraphError) -> Q8ConvTransposePlan {
        try plan(d, node) { w, b throws(ShapeError) in
            try Q8ConvTransposePlan(g, weights: w, bias: b, multipliers: d.multipliers, inputZeroPoint: d.inputZeroPoint,
                                    activation: d.activation, output: d.target)
        }
    }

    /// Arena offsets: a value lives from the step that writes it to the last step that reads it.
    private func planMemory(_ graph: Graph, inputs: [TensorShape]) throws(GraphError) {
        var requests: [MemoryPlanner.Request] = []
        for v in values { requests.append(MemoryPlanner.Request(size: (v.bytes + 3) / 4, firstUse: 0, lastUse: 0)) }
        for (s, step) in steps.enumerated() {
            requests[step.output].firstUse = s + 1
            requests[step.output].lastUse = max(requests[step.output].lastUse, s + 1)
            for o in step.operands { requests[o].lastUse = max(requests[o].lastUse, s + 1) }
        }
        for (_, v) in outputValues { requests[v].lastUse = steps.count + 1 }
        let (offsets, arenaFloats) = MemoryPlanner.plan(requests)
        let workspaceSize = max(workspaceFloats * 4, scratchBytes * threads)
        try MemoryBudget.check(bytes: arenaFloats * 4 + workspaceSize + packedWeightBytes, inputs: inputs)
        self.offsets = offsets
        arena = AlignedBuffer(count: arenaFloats)
        unsharedBytes = MemoryPlanner.naiveFloats(requests) * 4
        workspaceBytes = workspaceSize
        workspace = AlignedBuffer(count: (workspaceBytes + 3) / 4)
    }

    var arenaBytes: Int { arena.count * 4 }

    func raw(_ value: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(arena.pointer + offsets[value]) }
    func floatPointer(_ value: Int) -> UnsafeMutablePointer<Float> { arena.pointer + offsets[value] }
}

func withOptionalInt32<R, E: Error>(_ array: [Int32]?, _ body: (UnsafePointer<Int32>?) throws(E) -> R) throws(E) -> R {
    guard let array else { return try body(nil) }
    let result: Result<R, E> = array.withUnsafeBufferPointer { p in
        do throws(E) { return .success(try body(p.baseAddress!)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// Asks a node's operator family to lower it to int8 steps (nil: it runs as a float island).
private struct Int8LoweringVisitor: OperatorVisitor {
    let program: Int8Program
    let node: Int
    func visit<O: OperatorDefinition>(_ op: O) throws(GraphError) -> Int? { try op.lowerInt8(program, node: node) }
}
