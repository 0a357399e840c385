import Engine
import Kernels

/// Central finite differences of a graph's outputs, for gradient checks: the loss is `sum(outputs * weights)`
/// in Float64 by the reference executor on unrounded outputs, so the quotient carries no Float32 rounding.
public enum FiniteDifferences {
    /// `sum over outputs k of outputs[k] . weights[k]`; `batchStatistics` normalizes BatchNorm with the batch's
    /// statistics, as training does.
    public static func loss(_ graph: Graph, input x: Tensor, weights r: [Tensor], batchStatistics: Bool) throws(GraphError) -> Double {
        let outputs = try ReferenceExecutor.runDouble(graph, [x], batchStatistics: batchStatistics)
        var s = 0.0
        for (o, w) in zip(outputs, r) { for k in 0..<o.data.count { s += o.data[k] * Double(w.data[k]) } }
        return s
    }

    /// The central difference quotient of `loss` in parameter `p`, coordinate `i`, with the exact float step
    /// (the difference of the two Float32 weights actually used, not 2h).
    public static func quotient(_ graph: Graph, parameter p: Int, index i: Int, step h: Float, input x: Tensor, weights r: [Tensor],
                                batchStatistics: Bool) throws(GraphError) -> Double {
        var plus = graph, minus = graph
        var values = graph.parameters[p].floats
        let w = values[i]
        values[i] = w + h
        let wp = values[i]
        plus.parameters[p].data = .f32(values)
        values[i] = w - h
        let wm = values[i]
        minus.parameters[p].data = .f32(values)
        return (try loss(plus, input: x, weights: r, batchStatistics: batchStatistics)
                - loss(minus, input: x, weights: r, batchStatistics: batchStatistics)) / (Double(wp) - Double(wm))
    }
}
