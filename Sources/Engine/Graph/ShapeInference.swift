import Kernels

extension Graph {
    /// The output shape of every node for the given input shapes (one per input node, in order),
    /// for any batch and H x W. Throws, naming the node, when a shape or a parameter size does not fit.
    public func inferShapes(_ inputs: [TensorShape]) throws(GraphError) -> [TensorShape] {
        try validate()
        let inputNodes = self.inputNodes
        if inputs.count != inputNodes.count { throw .inputCount(expected: inputNodes.count, got: inputs.count) }
        var shapes: [TensorShape] = []
        shapes.reserveCapacity(nodes.count)
        var nextInput = 0
        for node in nodes {
            let shape = try outputShape(node, operands: node.inputs.map { shapes[$0] },
                                        input: { let s = inputs[nextInput]; nextInput += 1; return s })
            if shape.depth != nil { throw .shape(node: node.name, "3D tensors are not executed in this release") }
            if shape.batch <= 0 || shape.channels <= 0 || shape.height <= 0 || shape.width <= 0 {
                throw .shape(node: node.name, "output shape \(shape) is empty")
            }
            shapes.append(shape)
        }
        return shapes
    }

    private func expectCount(_ node: Node, _ parameter: Int, _ count: Int, _ what: String) throws(GraphError) {
        let got = parameters[parameter].elementCount
        if got != count {
            throw .shape(node: node.name, "\(what) '\(parameters[parameter].name)' has \(got) values, expected \(count)")
        }
    }

    private func outputShape(_ node: Node, operands: [TensorShape], input: () -> TensorShape) throws(GraphError) -> TensorShape {
        func fail(_ message: String) -> GraphError { .shape(node: node.name, message) }
        switch node.op {
        case .input(let channels):
            let s = input()
            if s.channels != channels { throw fail("input has \(s.channels) channels, the model takes \(channels)") }
            return s
        case .conv2d(let a):
            let x = operands[0]
            let g = a.geometry(x)
            if let error = g.validate() { throw fail("\(error)") }
            try expectCount(node, a.weight, g.weightCount, "weight")
            if let b = a.bias { try expectCount(node, b, a.outChannels, "bias") }
            var out = x
            out.channels = a.outChannels
            out.height = g.outHeight
            out.width = g.outWidth
            return out
        case .convTranspose2d(let a):
            let x = operands[0]
            let g = a.geometry(x)
            if let error = g.validate() { throw fail("\(error)") }
            try expectCount(node, a.weight, g.weightCount, "weight")
            if let b = a.bias { try expectCount(node, b, a.outChannels, "bias") }
            var out = x
            out.channels = a.outChannels
            out.height = g.outHeight
            out.width = g.outWidth
            return out
        case .maxPool2d(let a), .averagePool2d(let a):
            let g = a.geometry(operands[0])
            if let error = g.validate() { throw fail("\(error)") }
            var out = operands[0]
            out.height = g.outHeight
            out.width = g.outWidth
            return out
        case .adaptiveAveragePool2d(let bins):
            if bins <= 0 { throw fail("adaptive pooling needs positive bins, got \(bins)") }
            var out = operands[0]
            out.height = bins
            out.width = bins
            return out
        case .upsample(let a):
            var out = operands[0]
            if a.scale == 0 {
                out.height = operands[1].height
                out.width = operands[1].width
            } else if a.scale > 0 {
                out.height *= a.scale
                out.width *= a.scale
            } else {
                throw fail("upsampling scale must be positive, got \(a.scale)")
            }
            return out
        case .concat:
            var out = operands[0]
            for s in operands.dropFirst() {
                if s.batch != out.batch || s.height != out.height || s.width != out.width {
                    throw fail("cannot concatenate \(out) with \(s): spatial sizes differ")
                }
                out.channels += s.channels
            }
            return out
        case .add:
            if operands[0] != operands[1] { throw fail("cannot add \(operands[0]) and \(operands[1])") }
            return operands[0]
        case .mul:
            let x = operands[0], g = operands[1]
            let spatialGate = g.channels == 1 && g.height == x.height && g.width == x.width
            let channelGate = g.channels == x.channels && g.height == 1 && g.width == 1
            if g.batch != x.batch || !(x == g || spatialGate || channelGate) {
                throw fail("cannot multiply \(x) by \(g): need the same shape, 1 channel or 1x1 pixels")
            }
            return x
        case .batchNorm(let a):
            let c = operands[0].channels
            for p in [a.gamma, a.beta, a.mean, a.variance] { try expectCount(node, p, c, "batch-norm parameter") }
            return operands[0]
        case .activation, .softmax:
            return operands[0]
        }
    }
}
