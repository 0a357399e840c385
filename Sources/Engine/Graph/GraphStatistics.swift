import Kernels

/// Per-node figures of a graph at one input size: output shape, parameters and multiply-accumulates.
public struct NodeStatistics {
    public let name: String
    public let kind: String
    public let shape: TensorShape
    public let parameters: Int
    public let macs: Double
}

extension Graph {
    /// Shapes, parameter counts and MACs (direct-convolution count, whole batch) of every node.
    public func statistics(_ inputs: [TensorShape]) throws(GraphError) -> [NodeStatistics] {
        let shapes = try inferShapes(inputs)
        var rows: [NodeStatistics] = []
        for (i, node) in nodes.enumerated() {
            var visitor = MultiplyAccumulateVisitor(operands: node.inputs.map { shapes[$0] }, output: shapes[i])
            let macs = node.op.visit(&visitor)
            let count = node.op.parameterIndices.reduce(0) { $0 + parameters[$1].elementCount }
            rows.append(NodeStatistics(name: node.name, kind: node.op.kind, shape: shapes[i], parameters: count, macs: macs))
        }
        return rows
    }
}

private struct MultiplyAccumulateVisitor: OperatorVisitor {
    let operands: [TensorShape]
    let output: TensorShape
    func visit<O: OperatorDefinition>(_ op: O) -> Double { op.multiplyAccumulates(operands, output: output) }
}
