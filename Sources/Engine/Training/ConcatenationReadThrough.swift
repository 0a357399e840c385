import Kernels

/// A 3D convolution reading a U-Net's skip concatenation takes the concatenation's operands in its place: its
/// forward and its weight gradient stack their slices straight from their own arrays (a dropped BatchNorm operand,
/// the skip, normalized on the way), and its input gradient is added into one array per operand. The
/// concatenation, twice the size of either operand (216 MiB at a 96^3 patch pair's top level), is then never
/// built, neither in forward (`skipsConcatenation`) nor recomputed, nor given a gradient, and its own backward has
/// nothing to split. The values and sums are those of the concatenated path, element for element and in the same
/// order, so outputs and gradients keep their bits.
extension Autograd {
    /// The two operands of concatenation `j` when convolution `i` can read them in its place: `j` was dropped
    /// (`RecomputedActivations`), `i` is its only reader, and no node between them reads an operand (so each
    /// operand's gradient adds up in the order the concatenation's backward would give).
    func concatenationOperands(_ j: Int, readBy i: Int) -> [Int]? {
        stored[j].isEmpty ? readThroughOperands(j, reader: i) : nil
    }

    /// Whether training's forward leaves concatenation `j` unbuilt: it is dropped after its only reader, a
    /// convolution stacking depth taps, which reads the operands in its place (`concatenationOperands`).
    func skipsConcatenation(_ j: Int) -> Bool {
        guard case .concat = graph.nodes[j].op, recomputed.group[j] != nil,
              let i = graph.nodes.indices.first(where: { graph.nodes[$0].inputs.contains(j) }),
              case .conv2d(let conv) = graph.nodes[i].op, readThroughOperands(j, reader: i) != nil else { return false }
        return conv.stacksDepth(shapes[j], shapes[i], graph.nodes[i])
    }

    /// The two distinct operands of concatenation `j` when node `i` is its only reader, `j` is neither a graph
    /// output nor captured, and no node between them reads an operand.
    private func readThroughOperands(_ j: Int, reader i: Int) -> [Int]? {
        guard case .concat = graph.nodes[j].op, shapes[j].elementCount > 0, j != capturing,
              !graph.outputs.contains(where: { $0.node == j }) else { return nil }
        let operands = graph.nodes[j].inputs
        guard operands.count == 2, operands[0] != operands[1], operands.allSatisfy({ shapes[$0].elementCount > 0 }) else { return nil }
        for (k, node) in graph.nodes.enumerated() where k != i {
            if node.inputs.contains(j) { return nil }
            if k > j && k < i && node.inputs.contains(where: { operands.contains($0) }) { return nil }
        }
        return operands
    }

    /// Runs `body` with the long volume of node `j` as stacking parts: its own array, or, given `operands`, the
    /// concatenation's operands side by side (a dropped BatchNorm output as its input and the forward's scale and
    /// shift; another dropped operand recomputed for `body` and dropped again after).
    func withStackParts(of j: Int, operands: [Int]?, _ body: ([DepthStacking.Part]) throws(GraphError) -> Void) throws(GraphError) {
        guard let operands else {
            try Autograd.pinned([value(j)][...], []) { (p) throws(GraphError) in try body([DepthStacking.Part(p[0], channels: shapes[j].channels)]) }
            return
        }
        var arrays: [[Float]] = [], layout: [(channels: Int, normalized: FusedActivation?)] = [], redone: [RecomputedActivations.Group] = []
        for k in operands {
            let c = shapes[k].channels
            if let bn = droppedBatchNorm(k) {
                arrays += [value(graph.nodes[bn.node].inputs[0]), bn.saved.scale, bn.saved.shift]
                layout.append((c, bn.activation))
            } else {
                if stored[k].isEmpty, let g = recomputed.group[k] { redone.append(g) }
                arrays.append(value(k))
                layout.append((c, nil))
            }
        }
        defer { for g in redone { for n in g.nodes { stored[n] = [] } } }
        try Autograd.pinned(arrays[...], []) { (p) throws(GraphError) in
            var parts: [DepthStacking.Part] = [], next = 0
            for (c, activation) in layout {
                if let activation {
                    parts.append(DepthStacking.Part(p[next], channels: c, normalize: (p[next + 1], p[next + 2], activation)))
                    next += 3
                } else {
                    parts.append(DepthStacking.Part(p[next], channels: c))
                    next += 1
                }
            }
            try body(parts)
        }
    }

    /// Pointers to the elements of `arrays` (none empty), valid inside `body`.
    private static func pinned(_ arrays: ArraySlice<[Float]>, _ pointers: [UnsafePointer<Float>],
                               _ body: ([UnsafePointer<Float>]) throws(GraphError) -> Void) throws(GraphError) {
        guard let first = arrays.first else { return try body(pointers) }
        try first.withUnsafeBufferPointer { (p) throws(GraphError) in try pinned(arrays.dropFirst(), pointers + [p.baseAddress!], body) }
    }
}
