/// Training on volumes releases each forward output as soon as no backward still to run reads it: after the
/// backward of the last node to run that reads it, which is the node itself when its backward reads its own
/// output (`OperatorDefinition.backwardReadsOutput`) and otherwise the earliest of the nodes that read it (a
/// convolution's output goes once the BatchNorm after it has run its backward). An activation fused into its
/// BatchNorm reads nothing in backward (the BatchNorm takes the gradient through it, from its input). A forward output otherwise
/// lives until the next step's forward overwrites it, so the top level's outputs, gone by the time its concat
/// and its first convolution run their backward, would add to that backward's gradients at the step's peak.
struct ReleasedActivations {
    /// The nodes whose outputs are released after backward node `k` ran.
    var after: [Int: [Int]] = [:]

    init() {}

    init(_ graph: Graph, fusedActivations: Set<Int>) {
        var last = graph.nodes.indices.map { graph.nodes[$0].op.backwardReadsOutput && !fusedActivations.contains($0) ? $0 : Int.max }
        for (k, node) in graph.nodes.enumerated() { for j in node.inputs { last[j] = min(last[j], k) } }
        for (j, k) in last.enumerated() { after[k == Int.max ? j : k, default: []].append(j) }
    }
}

extension Autograd {
    /// Releases operand `j`'s forward output now, in the middle of node `i`'s backward, when that backward is the
    /// last to read it (a convolution done with its input before it allocates the input's gradient; a BatchNorm
    /// writing its input gradient over its input).
    /// Returns whether it did. An activation fused into a BatchNorm shares the BatchNorm's array, which goes with it.
    @discardableResult
    func releaseOperand(_ j: Int, readLastBy i: Int) -> Bool {
        guard released.after[i]?.contains(j) == true else { return false }
        stored[j] = []
        if fusedActivationNodes.contains(j) { stored[graph.nodes[j].inputs[0]] = [] }
        return true
    }

    /// Max-pool node `i`'s argmaxes for its backward; when outputs are released, they go with that backward
    /// (in backward order, not at the next forward in the dictionary's order, which changes from run to run and
    /// with it how the heap's free blocks fall: 100 MiB of resident set either way on a 3D U-Net).
    func takeMaxPoolIndices(ofNode i: Int) -> [Int32] {
        guard let indices = maxPoolIndices[i] else {
            preconditionFailure("node \(graph.nodes[i].name): no argmaxes from a training forward")
        }
        if !released.after.isEmpty { maxPoolIndices[i] = nil }
        return indices
    }
}
