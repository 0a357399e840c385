import Engine
import Kernels

/// The Float64 executor: each node through its operator family's reference loops (NCHW, no packing, no
/// fusion, no folding, no arena). It runs the graph exactly as built (BatchNorm as BatchNorm), so comparing
/// the optimized executors against it also checks the graph passes.
public enum ReferenceExecutor {
    public typealias DTensor = ReferenceTensor

    /// `batchStatistics`: BatchNorm normalizes with the batch's mean and (biased) variance, as in training.
    public static func run(_ graph: Graph, _ inputs: [Tensor], batchStatistics: Bool = false) throws(GraphError) -> [Tensor] {
        try runDouble(graph, inputs, batchStatistics: batchStatistics).map { Tensor(shape: $0.shape, data: $0.data.map { Float($0) }) }
    }

    /// The outputs in Float64, unrounded (finite differences need them: rounding the outputs to Float32
    /// would put an error of about 1e-7 of the loss into every difference quotient).
    public static func runDouble(_ graph: Graph, _ inputs: [Tensor], batchStatistics: Bool = false) throws(GraphError) -> [DTensor] {
        let shapes = try graph.inferShapes(inputs.map { $0.shape })
        var values: [DTensor] = []
        var nextInput = 0
        for (i, node) in graph.nodes.enumerated() {
            var operands = node.inputs.map { values[$0] }
            if case .input = node.op {
                operands = [ReferenceTensor(inputs[nextInput])]
                nextInput += 1
            }
            var visitor = ReferenceVisitor(operands: operands, context: ReferenceContext(parameters: graph.parameters, output: shapes[i],
                                                                                         batchStatistics: batchStatistics))
            values.append(node.op.visit(&visitor))
        }
        return graph.outputs.map { values[$0.node] }
    }
}

private struct ReferenceVisitor: OperatorVisitor {
    let operands: [ReferenceTensor]
    let context: ReferenceContext
    func visit<O: OperatorDefinition>(_ op: O) -> ReferenceTensor { op.reference(operands, context) }
}
