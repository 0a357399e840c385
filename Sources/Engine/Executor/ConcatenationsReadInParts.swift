import Kernels

#if !SEGRUN_EDGE
/// Concatenations that are never built. A U-Net decoder concatenates its skip and up step only for the next
/// convolution to read, and on volumes that convolution stacks its depth taps into a padded input of its own
/// anyway: it reads the parts where they lie (`ConvAttributes.planVolume(_:parts:readsParts:)`), with the same
/// bits, and the concatenation takes neither a step nor memory. Not in segrun-edge, which builds every
/// concatenation, to stay under 1.5 MB.
extension ExecutionPlan {
    /// Which nodes are concatenations the plan offers not to build: not a graph output, and read only by nodes that
    /// have it as their only operand. `init` plans each reader once, reading the parts (`prepareReadingParts`), and
    /// withdraws the offer when a reader cannot.
    static func concatenationsOffered(_ graph: Graph) -> [Bool] {
        var offered = graph.nodes.map { $0.op.isConcatenation }
        for output in graph.outputs { offered[output.node] = false }
        for node in graph.nodes where node.inputs.count > 1 { for j in node.inputs { offered[j] = false } }
        return offered
    }

    /// Node `output` (whose only operand is an offered concatenation) planned reading the concatenation's parts,
    /// given as its operands, or nil when it cannot: only a 3D convolution that stacks its depth taps into a padded
    /// input of its own reads parts, and only equal ones.
    static func prepareReadingParts(_ node: Node, graph: Graph, shapes: [TensorShape], output: Int, threads: Int,
                                    choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) -> PreparedOp? {
        let concat = node.inputs[0]
        guard case .conv2d(let conv) = node.op, shapes[concat].depth != nil else { return nil }
        let context = FloatPlanContext(node: node, parameters: graph.parameters, operands: [shapes[concat]], output: shapes[output],
                                       threads: threads, algorithm: choose)
        var readsParts = false
        let op = try conv.planVolume(context, parts: graph.nodes[concat].inputs.map { shapes[$0] }, readsParts: &readsParts)
        return readsParts ? op : nil
    }

    /// After `init`'s planning: the concatenations still offered (`unbuilt`) become steps that do nothing, and a
    /// reader that was planned reading parts (`readsParts`) of a concatenation whose offer another reader withdrew
    /// is planned again, plainly (no preset has such a concatenation: their readers are one convolution each).
    static func settleConcatenations(_ graph: Graph, shapes: [TensorShape], unbuilt: [Bool], readsParts: [Bool], ops: inout [PreparedOp],
                                     threads: Int, choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) {
        for (i, node) in graph.nodes.enumerated() where readsParts[i] && !unbuilt[node.inputs[0]] {
            ops[i] = try prepare(node, graph: graph, operands: [shapes[node.inputs[0]]], output: shapes[i], threads: threads, choose: choose)
        }
        for i in ops.indices where unbuilt[i] { ops[i] = PreparedOp { _ in } }
    }
}

private extension Op {
    var isConcatenation: Bool {
        if case .concat = self { return true }
        return false
    }
}
#endif
