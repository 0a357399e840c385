import Kernels

extension Graph {
    /// The output shape of every node for the given input shapes (one per input node, in order),
    /// for any batch and spatial size ([D x] H x W). Throws, naming the node, when a shape or a parameter size does not fit.
    public func inferShapes(_ inputs: [TensorShape]) throws(GraphError) -> [TensorShape] {
        try validate()
        let inputNodes = self.inputNodes
        if inputs.count != inputNodes.count { throw .inputCount(expected: inputNodes.count, got: inputs.count) }
        var shapes: [TensorShape] = []
        shapes.reserveCapacity(nodes.count)
        var nextInput = 0
        for node in nodes {
            var operands = node.inputs.map { shapes[$0] }
            if case .input = node.op {
                operands = [inputs[nextInput]]
                nextInput += 1
            }
            var visitor = OutputShapeVisitor(operands: operands, context: ShapeContext(node: node.name, parameters: parameters))
            let shape = try node.op.visit(&visitor)
            if shape.batch <= 0 || shape.channels <= 0 || shape.height <= 0 || shape.width <= 0 || (shape.depth ?? 1) <= 0 {
                throw .shape(node: node.name, "output shape \(shape) is empty")
            }
            shapes.append(shape)
        }
        return shapes
    }
}

private struct OutputShapeVisitor: OperatorVisitor {
    let operands: [TensorShape]
    let context: ShapeContext
    func visit<O: OperatorDefinition>(_ op: O) throws(GraphError) -> TensorShape { try op.outputShape(operands, context) }
}
