import Kernels

/// Training keeps a BatchNorm's, a concatenation's or a cheap convolution's output only while forward nodes still
/// read it: once the last of them has run, the array is freed, and a backward that reads it gets it recomputed by the
/// same kernel, so the bits are the forward's. A BatchNorm is redone from its input (a convolution's output, which
/// that convolution's BatchNorm backward keeps anyway) and the scale and shift its forward saved; a BatchNorm with
/// its fused activation is one group (they share one array). A concatenation is copied again from its operands
/// (`Autograd.copyValue`: a dropped BatchNorm operand normalized straight into its channels, another dropped one
/// recomputed for the copy and dropped again): the skip connection it copies is kept as the convolution output it
/// is normalized from, not twice more. A convolution with few multiply-adds per output
/// (`cheapConvolution`: the first layer of a one-channel image) is run again from its input. This is PyTorch's
/// activation checkpointing narrowed to the cheapest ops to redo: one pass over the data, against the largest share
/// of a U-Net's saved activations (a 3D U-Net at 96^3 keeps about half as many full-size tensors).
struct RecomputedActivations {
    struct Group {
        /// The node whose forward is redone: a BatchNorm, a concatenation or a convolution.
        let node: Int
        /// That node and, for a BatchNorm running an activation inside it, the activation's node.
        let nodes: [Int]
    }

    /// The most multiply-adds per output (input channels times taps over groups) of a convolution whose output
    /// is recomputed rather than kept: a 3x3x3 convolution of one input channel (27).
    static let cheapConvolution = 32

    /// The group of every node in one.
    var group: [Int: Group] = [:]
    /// The groups whose arrays are freed after forward node `k` ran (the last node reading any of them).
    var dropAfter: [Int: [Group]] = [:]

    init() {}

    /// The groups of `graph`'s BatchNorm, concatenation and cheap convolution nodes (`fused`: the BatchNorms that
    /// run their following activation), except those that are graph outputs or that nothing reads.
    init(_ graph: Graph, fused: [Int: FusedActivation]) {
        var outputs = Set<Int>()
        for o in graph.outputs { outputs.insert(o.node) }
        for (i, node) in graph.nodes.enumerated() {
            var nodes = [i]
            switch node.op {
            case .batchNorm:
                if fused[i] != nil, let k = graph.nodes.indices.first(where: { $0 > i && graph.nodes[$0].inputs.contains(i) }) { nodes.append(k) }
            case .concat: break
            case .conv2d(let c):
                // A convolution as cheap to redo as a BatchNorm pass: few multiply-adds per output (the first
                // layer, reading the one-channel image).
                let multiplyAddsPerOutput = graph.parameters[c.weight].elementCount / max(1, c.outChannels)
                guard multiplyAddsPerOutput <= RecomputedActivations.cheapConvolution else { continue }
            default: continue
            }
            if nodes.contains(where: { outputs.contains($0) }) { continue }
            var last = -1
            for (k, reader) in graph.nodes.enumerated() where !nodes.contains(k) && reader.inputs.contains(where: { nodes.contains($0) }) {
                last = max(last, k)
            }
            guard last >= 0 else { continue }
            let g = Group(node: i, nodes: nodes)
            for n in nodes { group[n] = g }
            dropAfter[last, default: []].append(g)
        }
    }
}

/// The forward outputs as operators read them (`tape.values[j]`): a dropped output is recomputed.
struct ActivationStore {
    let tape: Autograd
    subscript(_ i: Int) -> [Float] { tape.value(i) }
}

extension Autograd {
    /// Node `i`'s forward output, recomputed first if it was dropped.
    func value(_ i: Int) -> [Float] {
        if stored[i].isEmpty && shapes[i].elementCount > 0 {
            guard let g = recomputed.group[i] else {
                preconditionFailure("node \(graph.nodes[i].name): its forward output was released before a backward read it (run forward again)")
            }
            recompute(g)
        }
        return stored[i]
    }

    /// Frees the recomputable outputs no forward node reads after node `k`.
    func dropOutputsLastRead(by k: Int) {
        guard let groups = recomputed.dropAfter[k] else { return }
        for g in groups { drop(g) }
    }

    /// Frees operand `j`'s output in the middle of node `i`'s backward, once `i` has read it: released when `i`
    /// is its last backward reader, else dropped when it can be recomputed for a later one (a BatchNorm output
    /// that another convolution reads too), so that the input gradient allocated next does not sit beside it.
    func freeOperand(_ j: Int, readBy i: Int) {
        if releaseOperand(j, readLastBy: i) { return }
        if let g = recomputed.group[j] { drop(g) }
    }

    /// Frees a group's arrays (a BatchNorm's only when it trains: an inference BatchNorm has no saved
    /// statistics to be redone from).
    private func drop(_ g: RecomputedActivations.Group) {
        if case .batchNorm = graph.nodes[g.node].op, batchNormSaved[g.node] == nil { return }
        for n in g.nodes { stored[n] = [] }
    }

    /// Writes node `j`'s forward output into a concatenation: pixel `p`'s channels at `destination + p *
    /// rowStride`. A dropped BatchNorm output is normalized straight into place, with no array of its own (the
    /// top level's skip connection, 16 channels of a 96^3 patch pair, is 108 MiB); another dropped output is
    /// recomputed for the copy and dropped again after.
    func copyValue(_ j: Int, into destination: UnsafeMutablePointer<Float>, rowStride: Int) {
        let c = shapes[j].channels, pixels = shapes[j].elementCount / max(1, c)
        if let bn = droppedBatchNorm(j) {
            normalizeBatchNorm(bn.node, into: destination, outputStride: rowStride)
            return
        }
        let dropped = stored[j].isEmpty && pixels > 0
        value(j).withUnsafeBufferPointer { src in
            let sp = src.baseAddress!
            ParallelFor.run(count: pixels, threads: threads) { range, _ in
                for p in range { (destination + p * rowStride).update(from: sp + p * c, count: c) }
            }
        }
        if dropped, let g = recomputed.group[j] { drop(g) }
    }

    /// The training BatchNorm whose dropped output node `j` is (itself, or the activation fused into it): what
    /// recomputes it, for a caller that writes it straight where it is needed.
    func droppedBatchNorm(_ j: Int) -> (node: Int, saved: F32BatchNormTraining.Saved, activation: FusedActivation)? {
        guard stored[j].isEmpty, shapes[j].elementCount > 0, let g = recomputed.group[j],
              case .batchNorm(let a) = graph.nodes[g.node].op, let saved = batchNormSaved[g.node] else { return nil }
        return (g.node, saved, batchNormActivation(g.node, a))
    }

    private func recompute(_ g: RecomputedActivations.Group) {
        switch graph.nodes[g.node].op {
        case .concat(let concat): redoConcatenation(g.node, concat)
        case .conv2d(let conv): redoConvolution(g.node, conv)
        default: redoBatchNorm(g)
        }
    }

    /// The convolution of node `i`, as its training forward computed it (the same weights: backward runs before
    /// the optimizer step).
    private func redoConvolution(_ i: Int, _ conv: ConvAttributes) {
        var y = Autograd.uninitialized(shapes[i].elementCount)
        do { try conv.trainingForward(self, node: i, output: &y) } catch {
            preconditionFailure("node \(graph.nodes[i].name): recomputing the convolution failed: \(error)")
        }
        stored[i] = y
    }

    /// The concatenation of node `i`'s operands, as its training forward copied it (`copyValue`).
    private func redoConcatenation(_ i: Int, _ concat: Concat) {
        var y = Autograd.uninitialized(shapes[i].elementCount)
        do { try concat.trainingForward(self, node: i, output: &y) } catch {
            preconditionFailure("node \(graph.nodes[i].name): recomputing the concatenation failed: \(error)")
        }
        stored[i] = y
    }

    /// `y = activation(x * scale + shift)` of the group's BatchNorm, as its training forward computed it.
    private func redoBatchNorm(_ g: RecomputedActivations.Group) {
        let c = shapes[g.node].channels
        var y = Autograd.uninitialized(shapes[g.node].elementCount)
        y.withUnsafeMutableBufferPointer { normalizeBatchNorm(g.node, into: $0.baseAddress!, outputStride: c) }
        for n in g.nodes { stored[n] = y }
    }

    /// BatchNorm node `i`'s output from its input and the scale and shift its training forward saved, pixel `p`
    /// written at `destination + p * outputStride`.
    private func normalizeBatchNorm(_ i: Int, into destination: UnsafeMutablePointer<Float>, outputStride: Int) {
        guard case .batchNorm(let a) = graph.nodes[i].op, let saved = batchNormSaved[i] else {
            preconditionFailure("node \(graph.nodes[i].name): no saved statistics to recompute its output from")
        }
        let x = value(graph.nodes[i].inputs[0])
        let c = shapes[i].channels, activation = batchNormActivation(i, a)
        x.withUnsafeBufferPointer { xp in saved.scale.withUnsafeBufferPointer { sp in saved.shift.withUnsafeBufferPointer { hp in
            let src = xp.baseAddress!, scale = sp.baseAddress!, shift = hp.baseAddress!
            ParallelFor.spread(xp.count / c, threads: threads) {
                F32BatchNormTraining.normalize(src, channels: c, scale: scale, shift: shift, activation: activation, pixels: $0,
                                               output: destination, outputStride: outputStride)
            }
        } } }
    }
}
