import Kernels

#if !SEGRUN_EDGE
/// Concatenations that are never built. A U-Net decoder concatenates its skip and up step only for the next
/// convolution to read, and on volumes that convolution stacks its depth taps into a padded input of its own
/// anyway: it reads the parts where they lie (`ConvAttributes.planVolume(_:parts:readsParts:)`), with the same
/// bits, and the concatenation takes neither a step nor memory. Not in segrun-edge, which builds every
/// concatenation, to stay under 1.5 MB.
extension ExecutionPlan {
    /// Plans again, reading the parts, the readers of each concatenation that is not a graph output and that every
    /// reader has as its only operand, if all of them can; such concatenations become steps that do nothing.
    /// Returns which nodes they are: their readers' operands are the concatenation's (`ExecutionPlan.init`).
    static func readConcatenationsInParts(_ graph: Graph, shapes: [TensorShape], ops: inout [PreparedOp], threads: Int,
                                          choose: @escaping (Conv2dGeometry) -> ConvAlgorithm) throws(GraphError) -> [Bool] {
        let nodes = graph.nodes
        var unbuilt = nodes.map { $0.op.isConcatenation }
        for output in graph.outputs { unbuilt[output.node] = false }
        for node in nodes where node.inputs.count > 1 { for j in node.inputs { unbuilt[j] = false } }
        var readingParts = [PreparedOp?](repeating: nil, count: nodes.count)
        for (i, node) in nodes.enumerated() where node.inputs.count == 1 && unbuilt[node.inputs[0]] {
            let concat = node.inputs[0]
            var readsParts = false
            if case .conv2d(let conv) = node.op, shapes[concat].depth != nil {
                let context = FloatPlanContext(node: node, parameters: graph.parameters, operands: [shapes[concat]], output: shapes[i],
                                               threads: threads, algorithm: choose)
                let op = try conv.planVolume(context, parts: nodes[concat].inputs.map { shapes[$0] }, readsParts: &readsParts)
                if readsParts { readingParts[i] = op }
            }
            if !readsParts { unbuilt[concat] = false }
        }
        for (i, node) in nodes.enumerated() where node.inputs.count == 1 && unbuilt[node.inputs[0]] { ops[i] = readingParts[i]! }
        for i in nodes.indices where unbuilt[i] { ops[i] = PreparedOp { _ in } }
        return unbuilt
    }
}

private extension Op {
    var isConcatenation: Bool {
        if case .concat = self { return true }
        return false
    }
}
#endif
