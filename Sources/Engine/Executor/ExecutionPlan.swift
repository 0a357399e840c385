import Kernels

/// A graph scheduled for one set of input shapes: every node's shape, a prepared operator per node,
/// and one activation arena in which tensors with disjoint lifetimes share memory.
/// Built once per input shape by `Executor.plan(_:)`, then run any number of times.
public final class ExecutionPlan {
    public let inputShapes: [TensorShape]
    /// Output shape of every node.
    public let shapes: [TensorShape]
    let ops: [PreparedOp]
    let operands: [[Int]]
    /// Arena offset (floats) of every node's output.
    let offsets: [Int]
    /// Concatenations whose readers read their parts instead (`ConcatenationsReadInParts.swift`): no step, no memory.
    let unbuiltConcatenations: [Int]
    let outputNodes: [Int]
    let arena: AlignedBuffer
    let workspace: AlignedBuffer
    public let threads: Int
    /// The algorithm each convolution runs, by node name (for `segrun info` and benchmarks).
    public let convolutionChoices: [(node: String, geometry: Conv2dGeometry, algorithm: ConvAlgorithm)]
    /// Multiply-adds x 2 of the convolutions (direct-algorithm count) for the whole batch.
    public let flops: Double

    public let arenaBytes: Int
    /// What the arena would be without reuse.
    public let unsharedActivationBytes: Int
    public let workspaceBytes: Int
    /// Packed weights held by the prepared operators.
    public let packedWeightBytes: Int
    /// The quantized program, when the graph runs int8 (then the float fields above are unused).
    let int8: Int8Program?
    /// Nodes of a quantized graph that run in float (empty for float plans).
    public var floatNodes: [String] { int8?.floatNodes ?? [] }
    public var isQuantized: Bool { int8 != nil }

    /// Arena, workspace and packed weights: the memory a run needs beyond the caller's tensors.
    public var plannedPeakBytes: Int { arenaBytes + workspaceBytes + packedWeightBytes }

    init(graph: Graph, inputs: [TensorShape], threads: Int, choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) {
        let shapes = try graph.inferShapes(inputs)
        self.inputShapes = inputs
        self.shapes = shapes
        self.threads = threads
        var ops: [PreparedOp] = []
        #if SEGRUN_EDGE
        let unbuilt = [Bool](repeating: false, count: graph.nodes.count)
        #else
        var unbuilt = ExecutionPlan.concatenationsOffered(graph)
        var readsParts = [Bool](repeating: false, count: graph.nodes.count)
        #endif
        for (i, node) in graph.nodes.enumerated() {
            #if !SEGRUN_EDGE
            if node.inputs.count == 1 && unbuilt[node.inputs[0]] {
                if let op = try ExecutionPlan.prepareReadingParts(node, graph: graph, shapes: shapes, output: i, threads: threads, choose: choose) {
                    ops.append(op)
                    readsParts[i] = true
                    continue
                }
                unbuilt[node.inputs[0]] = false
            }
            #endif
            ops.append(try ExecutionPlan.prepare(node, graph: graph, operands: node.inputs.map { shapes[$0] }, output: shapes[i],
                                                 threads: threads, choose: choose))
        }
        #if !SEGRUN_EDGE
        try ExecutionPlan.settleConcatenations(graph, shapes: shapes, unbuilt: unbuilt, readsParts: readsParts, ops: &ops, threads: threads,
                                               choose: choose)
        #endif
        var choices: [(node: String, geometry: Conv2dGeometry, algorithm: ConvAlgorithm)] = []
        var workspaceFloats = 0
        var packed = 0
        var flops = 0.0
        for (i, op) in ops.enumerated() {
            workspaceFloats = max(workspaceFloats, op.workspaceFloats)
            packed += op.packedWeightBytes
            flops += op.flops
            if let c = op.convolution { choices.append((graph.nodes[i].name, c.geometry, c.algorithm)) }
        }
        self.ops = ops
        unbuiltConcatenations = ops.indices.filter { unbuilt[$0] }
        operands = graph.nodes.map { $0.inputs.count == 1 && unbuilt[$0.inputs[0]] ? graph.nodes[$0.inputs[0]].inputs : $0.inputs }
        outputNodes = graph.outputs.map { $0.node }
        convolutionChoices = choices
        self.flops = flops

        // Lifetimes: a node's output lives from its step to its last reader; graph outputs to the end.
        var requests: [MemoryPlanner.Request] = []
        for (i, shape) in shapes.enumerated() {
            requests.append(MemoryPlanner.Request(size: unbuilt[i] ? 0 : shape.elementCount, firstUse: i, lastUse: i))
        }
        for (i, inputs) in operands.enumerated() {
            for j in inputs { requests[j].lastUse = max(requests[j].lastUse, i) }
        }
        for o in outputNodes { requests[o].lastUse = graph.nodes.count }
        let (offsets, arenaFloats) = MemoryPlanner.plan(requests)
        try MemoryBudget.check(bytes: (arenaFloats + workspaceFloats) * 4 + packed, inputs: inputs)
        self.offsets = offsets
        arena = AlignedBuffer(count: arenaFloats)
        workspace = AlignedBuffer(count: workspaceFloats)
        #if DEBUG
        // Debug builds (the tests) poison the arena and the workspace: a read of memory no step wrote gives NaN.
        arena.pointer.update(repeating: .nan, count: arenaFloats)
        workspace.pointer.update(repeating: .nan, count: workspaceFloats)
        #endif
        arenaBytes = arenaFloats * 4
        unsharedActivationBytes = MemoryPlanner.naiveFloats(requests) * 4
        workspaceBytes = workspaceFloats * 4
        packedWeightBytes = packed
        int8 = nil
    }

    /// A plan for a quantized graph: int8 kernels where the table quantizes a node, fp32 elsewhere.
    /// `reference` runs the integer reference kernels instead of the fast ones (for tests).
    init(graph: Graph, quantization: ActivationQuantization, inputs: [TensorShape], threads: Int, reference: Bool,
         choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) {
        let program = try Int8Program(graph: graph, quantization: quantization, inputs: inputs, threads: threads,
                                      reference: reference, choose: choose)
        inputShapes = inputs
        shapes = try graph.inferShapes(inputs)
        self.threads = threads
        ops = []
        operands = []
        offsets = []
        unbuiltConcatenations = []
        outputNodes = graph.outputs.map { $0.node }
        arena = AlignedBuffer(count: 0)
        workspace = AlignedBuffer(count: 0)
        convolutionChoices = []
        flops = program.flops
        arenaBytes = program.arenaBytes
        unsharedActivationBytes = program.unsharedBytes
        workspaceBytes = program.workspaceBytes
        packedWeightBytes = program.packedWeightBytes
        int8 = program
    }

    /// Prepares one float node through its operator family.
    static func prepare(_ node: Node, graph: Graph, operands: [TensorShape], output: TensorShape, threads: Int,
                        choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) -> PreparedOp {
        var visitor = FloatPlanVisitor(context: FloatPlanContext(node: node, parameters: graph.parameters, operands: operands,
                                                                 output: output, threads: threads, algorithm: choose))
        return try node.op.visit(&visitor)
    }

    /// Runs the graph on NHWC inputs already copied into the arena by `Executor`.
    func execute() {
        if let int8 { int8.execute(); return }
        var operandPointers: [UnsafeMutablePointer<Float>] = []
        var operandShapes: [TensorShape] = []
        for (i, op) in ops.enumerated() {
            operandPointers.removeAll(keepingCapacity: true)
            operandShapes.removeAll(keepingCapacity: true)
            for j in operands[i] {
                operandPointers.append(arena.pointer + offsets[j])
                operandShapes.append(shapes[j])
            }
            op.run(FloatOperands(inputs: operandPointers, inputShapes: operandShapes, output: arena.pointer + offsets[i],
                                 shape: shapes[i], workspace: workspace.pointer, threads: threads))
        }
    }

    /// Runs the plan like `execute()` and returns the seconds each node took (for profiling). With `only`, runs
    /// just the nodes it marks (0 seconds for the others): their operands are whatever the arena holds.
    public func executeTimed(only: [Bool]? = nil) -> [Double] {
        if let int8 { return int8.executeTimed(nodeCount: shapes.count) }
        var times = [Double](repeating: 0, count: ops.count)
        for (i, op) in ops.enumerated() where only?[i] ?? true {
            let pointers = operands[i].map { arena.pointer + offsets[$0] }
            let operandShapes = operands[i].map { shapes[$0] }
            let t0 = MonotonicClock.now()
            op.run(FloatOperands(inputs: pointers, inputShapes: operandShapes, output: arena.pointer + offsets[i],
                                 shape: shapes[i], workspace: workspace.pointer, threads: threads))
            times[i] = MonotonicClock.now() - t0
        }
        return times
    }

    /// The NHWC storage of node `i`'s output inside the arena.
    func pointer(_ node: Int) -> UnsafeMutablePointer<Float> {
        if let int8 { return int8.floatPointer(int8.inputValues[node] ?? int8.outputValues[node]!) }
        return arena.pointer + offsets[node]
    }
}

/// Calls `body` with the array's base address, or nil.
public func withOptionalPointer<R, E: Error>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) throws(E) -> R) throws(E) -> R {
    guard let array else { return try body(nil) }
    let result: Result<R, E> = array.withUnsafeBufferPointer { p in
        do throws(E) { return .success(try body(p.baseAddress!)) } catch { return .failure(error) }
    }
    return try result.get()
}

private struct FloatPlanVisitor: OperatorVisitor {
    let context: FloatPlanContext
    func visit<O: OperatorDefinition>(_ op: O) throws(GraphError) -> PreparedOp { try op.planFloat(context) }
}
