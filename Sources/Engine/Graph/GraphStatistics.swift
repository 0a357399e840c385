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
            let x = node.inputs.isEmpty ? shapes[i] : shapes[node.inputs[0]]
            var macs = 0.0
            switch node.op {
            case .conv2d(let a): macs = a.geometry(x).directFLOPs / 2
            case .convTranspose2d(let a): macs = a.geometry(x).directFLOPs / 2
            default: break
            }
            let count = parameterIndices(of: node.op).reduce(0) { $0 + parameters[$1].elementCount }
            rows.append(NodeStatistics(name: node.name, kind: node.op.kind, shape: shapes[i], parameters: count, macs: macs))
        }
        return rows
    }
}
