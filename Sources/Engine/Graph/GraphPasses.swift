import Kernels

/// Rewrites that run before execution (and before export): each returns an equivalent graph.
extension Graph {
    /// The passes the executor applies: auxiliary (training-only) outputs dropped, BatchNorm folding, activation
    /// fusion, dead-node removal.
    public func optimizedForInference() -> Graph {
        droppingAuxiliaryOutputs().foldingBatchNorm().fusingActivations().removingDeadNodes()
    }

    /// The graph without its auxiliary outputs (`GraphOutput.isAuxiliary`: deep-supervision heads that only
    /// training reads) and the nodes only they need; the graph itself when it has none.
    public func droppingAuxiliaryOutputs() -> Graph {
        outputs.contains { $0.isAuxiliary } ? keepingOutputs(outputs.filter { !$0.isAuxiliary }.map { $0.name }) : self
    }

    /// Folds each inference BatchNorm into the convolution or transposed convolution that feeds it,
    /// when that producer has no other reader and no activation of its own:
    /// `w'[o] = w[o] * scale[o]`, `b'[o] = b[o] * scale[o] + shift[o]`, with scale and shift from
    /// `BatchNormParameters.affine`. BatchNorms after other ops stay (they run as a channel affine map).
    public func foldingBatchNorm() -> Graph {
        var g = self
        let uses = useCounts()
        var forward = Array(0..<nodes.count)
        for (index, node) in nodes.enumerated() {
            guard case .batchNorm(let bn) = node.op else { continue }
            let producer = node.inputs[0]
            guard uses[producer] == 1 else { continue }
            let (scale, shift) = BatchNormParameters(gamma: parameters[bn.gamma].floats, beta: parameters[bn.beta].floats,
                                                     mean: parameters[bn.mean].floats,
                                                     variance: parameters[bn.variance].floats,
                                                     epsilon: bn.epsilon).affine
            // Convolutions and transposed convolutions without an activation take the BatchNorm into their weights.
            if case .conv2d(var a) = g.nodes[producer].op, a.activation == .none {
                let w = g.fold(a.weight, a.bias, scale, shift, outChannels: a.outChannels, outerAxisIsOutput: true)
                a.weight = w.weight
                a.bias = w.bias
                a.activation = bn.activation
                g.nodes[producer].op = .conv2d(a)
            } else if case .convTranspose2d(var a) = g.nodes[producer].op, a.activation == .none {
                let w = g.fold(a.weight, a.bias, scale, shift, outChannels: a.outChannels, outerAxisIsOutput: false)
                a.weight = w.weight
                a.bias = w.bias
                a.activation = bn.activation
                g.nodes[producer].op = .convTranspose2d(a)
            } else {
                continue
            }
            forward[index] = producer
        }
        return g.forwarding(forward)
    }

    /// Appends folded copies of a weight and bias and returns their indices.
    private mutating func fold(_ weight: Int, _ bias: Int?, _ scale: [Float], _ shift: [Float], outChannels: Int,
                               outerAxisIsOutput: Bool) -> (weight: Int, bias: Int) {
        var w = parameters[weight].floats
        let perOutput = w.count / outChannels
        if outerAxisIsOutput {
            for i in 0..<w.count { w[i] *= scale[i / perOutput] }
        } else {
            // IOHW: [in][out][k]
            let k = parameters[weight].shape.count == 4 ? parameters[weight].shape[2] * parameters[weight].shape[3] : 1
            for i in 0..<w.count { w[i] *= scale[(i / k) % outChannels] }
        }
        var b = bias.map { parameters[$0].floats } ?? [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels { b[o] = b[o] * scale[o] + shift[o] }
        let base = parameters[weight].name
        parameters.append(Parameter(name: base, shape: parameters[weight].shape, values: w))
        let biasName = base.hasSuffix(".weight") ? String(base.dropLast(7)) + ".bias" : base + ".bias"
        parameters.append(Parameter(name: biasName, shape: [outChannels], values: b))
        return (parameters.count - 2, parameters.count - 1)
    }

    /// Moves each ReLU or LeakyReLU into the conv, transposed conv, add or BatchNorm that produces its
    /// operand, when that producer has no other reader and no activation yet.
    public func fusingActivations() -> Graph {
        var g = self
        let uses = useCounts()
        var forward = Array(0..<nodes.count)
        for (index, node) in nodes.enumerated() {
            guard case .activation(let kind) = node.op, let fused = kind.fused else { continue }
            let producer = node.inputs[0]
            guard uses[producer] == 1 else { continue }
            guard let withActivation = g.nodes[producer].op.fusing(fused) else { continue }
            g.nodes[producer].op = withActivation
            forward[index] = producer
        }
        return g.forwarding(forward)
    }

    /// Rewires every read of node i to node `forward[i]` (nodes that became aliases), then drops
    /// what no output needs.
    private func forwarding(_ forward: [Int]) -> Graph {
        var g = self
        func resolve(_ i: Int) -> Int {
            var j = i
            while forward[j] != j { j = forward[j] }
            return j
        }
        for i in 0..<g.nodes.count { g.nodes[i].inputs = g.nodes[i].inputs.map(resolve) }
        for i in 0..<g.outputs.count { g.outputs[i].node = resolve(g.outputs[i].node) }
        return g.removingDeadNodes()
    }

    /// Keeps only the named outputs (U-Net++ fast mode keeps one deep-supervision head) and prunes the rest.
    public func keepingOutputs(_ names: [String]) -> Graph {
        var g = self
        g.outputs = outputs.filter { names.contains($0.name) }
        return g.removingDeadNodes()
    }

    /// Removes nodes no output depends on (inputs always stay) and parameters no node reads,
    /// renumbering both.
    public func removingDeadNodes() -> Graph {
        var live = [Bool](repeating: false, count: nodes.count)
        for output in outputs { live[output.node] = true }
        for i in stride(from: nodes.count - 1, through: 0, by: -1) {
            if case .input = nodes[i].op { live[i] = true }
            if live[i] { for j in nodes[i].inputs { live[j] = true } }
        }
        var newIndex = [Int](repeating: -1, count: nodes.count)
        var parameterIndex = [Int](repeating: -1, count: parameters.count)
        var g = Graph()
        for (i, node) in nodes.enumerated() where live[i] {
            var copy = node
            copy.inputs = node.inputs.map { newIndex[$0] }
            copy.op = node.op.remappingParameters { p in
                if parameterIndex[p] < 0 {
                    parameterIndex[p] = g.parameters.count
                    g.parameters.append(parameters[p])
                }
                return parameterIndex[p]
            }
            newIndex[i] = g.nodes.count
            g.nodes.append(copy)
        }
        g.outputs = outputs.map { GraphOutput(name: $0.name, node: newIndex[$0.node]) }
        return g
    }
}
