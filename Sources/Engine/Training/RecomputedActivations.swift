import Kernels

/// Training keeps a BatchNorm's or a concatenation's output only while forward nodes still read it: once the
/// last of them has run, the array is freed, and a backward that reads it gets it recomputed. A BatchNorm is
/// redone from its input (a convolution's output, which that convolution's backward keeps anyway) and the scale
/// and shift its forward saved, by the same kernel; a concatenation is run again from its operands (recomputing
/// a freed operand for the copy only). Either way the bits are the forward's. A BatchNorm with its fused
/// activation is one group (they share one array). This is PyTorch's activation checkpointing narrowed to the
/// cheapest ops to redo, one pass over the data each, against the largest share of a U-Net's saved activations
/// (at 96^3, a 3D U-Net's forward keeps 1.0 instead of 1.8 GiB).
struct RecomputedActivations {
    struct Group {
        /// The BatchNorm or concatenation node; the group's arrays are freed again after its own backward.
        let owner: Int
        /// The owner and, when an activation runs inside a BatchNorm, that activation's node.
        let nodes: [Int]
        let isBatchNorm: Bool
    }

    /// The group of every node in one.
    var group: [Int: Group] = [:]
    /// The groups whose arrays are freed after forward node `k` ran (the last node reading any of them).
    var dropAfter: [Int: [Group]] = [:]

    init() {}

    /// The groups of `graph`'s BatchNorm and concatenation nodes (`fused`: the BatchNorms that run their
    /// following activation), except those that are graph outputs or that nothing reads.
    init(_ graph: Graph, fused: [Int: FusedActivation]) {
        var outputs = Set<Int>()
        for o in graph.outputs { outputs.insert(o.node) }
        for (i, node) in graph.nodes.enumerated() {
            let isBatchNorm: Bool
            switch node.op {
            case .batchNorm: isBatchNorm = true
            case .concat: isBatchNorm = false
            default: continue
            }
            var nodes = [i]
            if isBatchNorm, fused[i] != nil, let k = graph.nodes.indices.first(where: { $0 > i && graph.nodes[$0].inputs.contains(i) }) {
                nodes.append(k)
            }
            if nodes.contains(where: { outputs.contains($0) }) { continue }
            var last = -1
            for (k, reader) in graph.nodes.enumerated() where !nodes.contains(k) && reader.inputs.contains(where: { nodes.contains($0) }) {
                last = max(last, k)
            }
            guard last >= 0 else { continue }
            let g = Group(owner: i, nodes: nodes, isBatchNorm: isBatchNorm)
            for n in nodes { group[n] = g }
            dropAfter[last, default: []].append(g)
        }
    }
}

/// The forward outputs as operators read them (`tape.values[j]`): a dropped BatchNorm output is recomputed.
struct ActivationStore {
    let tape: Autograd
    subscript(_ i: Int) -> [Float] { tape.value(i) }
}

extension Autograd {
    /// Node `i`'s forward output, recomputed first if it was dropped.
    func value(_ i: Int) -> [Float] {
        if stored[i].isEmpty && shapes[i].elementCount > 0, let g = recomputed.group[i] { recompute(g) }
        return stored[i]
    }

    /// Frees the BatchNorm outputs no forward node reads after node `k`.
    func dropOutputsLastRead(by k: Int) {
        guard let groups = recomputed.dropAfter[k] else { return }
        for g in groups where !g.isBatchNorm || batchNormSaved[g.owner] != nil { for n in g.nodes { stored[n] = [] } }
    }

    /// The group's output as its training forward computed it.
    private func recompute(_ g: RecomputedActivations.Group) {
        let i = g.owner
        var y = Autograd.uninitialized(shapes[i].elementCount)
        if g.isBatchNorm {
            guard case .batchNorm(let a) = graph.nodes[i].op, let saved = batchNormSaved[i] else {
                preconditionFailure("node \(graph.nodes[i].name): no saved statistics to recompute its output from")
            }
            let x = value(graph.nodes[i].inputs[0])
            let c = shapes[i].channels, activation = batchNormActivation(i, a)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                saved.scale.withUnsafeBufferPointer { sp in saved.shift.withUnsafeBufferPointer { hp in
                    let src = xp.baseAddress!, dst = yp.baseAddress!, scale = sp.baseAddress!, shift = hp.baseAddress!
                    ParallelFor.spread(yp.count / c, threads: threads) {
                        F32BatchNormTraining.normalize(src, channels: c, scale: scale, shift: shift, activation: activation, pixels: $0, output: dst)
                    }
                } }
            } }
        } else {
            // Operands freed before stay freed: the copy needs them only now.
            let freed = graph.nodes[i].inputs.filter { stored[$0].isEmpty && recomputed.group[$0] != nil }
            do {
                try forwardNode(i, graph.nodes[i], &y)
            } catch {
                preconditionFailure("node \(graph.nodes[i].name): its forward ran on these shapes but not again: \(error)")
            }
            for j in freed { for n in recomputed.group[j]!.nodes { stored[n] = [] } }
        }
        for n in g.nodes { stored[n] = y }
    }
}
