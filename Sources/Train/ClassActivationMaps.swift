import Foundation
import Engine

/// Explanations of a segmentation model's output as heatmaps over the input.
///
/// - CAM: the activations that the 1x1 output convolution reads, weighted by that convolution's weights for
///   the target class (for a linear head this is the logit map split by channel), positive part.
/// - Grad-CAM (Selvaraju et al. 2017) for any named layer: channel weights are the spatial means of the gradient
///   of the target with respect to the layer's output; the map is the positive part of the weighted sum.
///
/// The target is the sum of the chosen class's logits over one pixel, a rectangle, or the predicted mask.
public enum ClassActivationMaps {
    public enum Target: Equatable {
        case pixel(y: Int, x: Int)
        case region(y: Int, x: Int, height: Int, width: Int)
        case mask
    }

    public enum ExplanationError: Error, CustomStringConvertible {
        case unknownLayer(String)
        case noLinearHead
        case graph(String)

        public var description: String {
            switch self {
            case .unknownLayer(let n): return "the model has no layer named '\(n)' (segrun info --layers lists them)"
            case .noLinearHead: return "CAM needs a 1x1 convolution as the output layer; use --method gradcam"
            case .graph(let s): return s
            }
        }
    }

    /// The layer CAM reads, and the default layer of Grad-CAM: the input of the output convolution (through
    /// a presence gate after it).
    public static func defaultLayer(_ graph: Graph) -> Int? {
        guard var output = graph.outputs.first?.node else { return nil }
        if case .presenceGate = graph.nodes[output].op { output = graph.nodes[output].inputs[0] }
        guard case .conv2d = graph.nodes[output].op else { return nil }
        return graph.nodes[output].inputs[0]
    }

    /// A heatmap in [0, 1] at the input's H x W (row-major), for class channel `classIndex` of the first output.
    /// `input` is a normalized NCHW tensor of batch 1 at a size the model accepts.
    public static func gradCAM(_ graph: Graph, input: Tensor, layer: String?, target: Target, classIndex: Int = 0,
                               threshold: Float = 0.5) throws(ExplanationError) -> [Float] {
        guard let node = layer.map({ name in graph.nodes.firstIndex { $0.name == name } }) ?? defaultLayer(graph) else {
            throw .unknownLayer(layer ?? "(default)")
        }
        let autograd: Autograd
        do { autograd = try Autograd(graph, threads: ParallelFor.coreCount) } catch { throw .graph("\(error)") }
        let logits: Tensor
        do { logits = try autograd.forward([input], training: false)[0] } catch { throw .graph("\(error)") }
        let seed = targetGradient(logits, target, classIndex, threshold)
        var seeds = [Tensor?](repeating: nil, count: graph.outputs.count)
        seeds[0] = seed
        let gradient: Tensor
        do { gradient = try autograd.backward(seeds, capturing: node)! } catch { throw .graph("\(error)") }
        let a = autograd.activation(of: node)
        let s = a.shape, hw = s.height * s.width
        var map = [Float](repeating: 0, count: hw)
        for c in 0..<s.channels {
            var alpha: Float = 0
            for p in 0..<hw { alpha += gradient.data[c * hw + p] }
            alpha /= Float(hw)
            for p in 0..<hw { map[p] += alpha * a.data[c * hw + p] }
        }
        return normalized(resized(map, s.height, s.width, input.shape.height, input.shape.width))
    }

    /// CAM through the output 1x1 convolution's weights for `classIndex`.
    public static func cam(_ graph: Graph, input: Tensor, classIndex: Int = 0) throws(ExplanationError) -> [Float] {
        guard let output = graph.outputs.first?.node, case .conv2d(let head) = graph.nodes[output].op,
              head.kernelHeight == 1, head.kernelWidth == 1, head.groups == 1, let node = defaultLayer(graph) else { throw .noLinearHead }
        let executorGraph: Graph = {
            var g = graph
            g.outputs = [GraphOutput(name: "features", node: node)]
            return g
        }()
        let features: Tensor
        do { features = try Executor(executorGraph, threads: ParallelFor.coreCount, optimize: false).run(input)[0] } catch { throw .graph("\(error)") }
        let w = graph.parameters[head.weight].floats
        let s = features.shape, hw = s.height * s.width
        var map = [Float](repeating: 0, count: hw)
        for c in 0..<s.channels {
            let weight = w[classIndex * s.channels + c]
            for p in 0..<hw { map[p] += weight * features.data[c * hw + p] }
        }
        return normalized(resized(map, s.height, s.width, input.shape.height, input.shape.width))
    }

    /// d(target)/d(logits): ones where the target counts.
    static func targetGradient(_ logits: Tensor, _ target: Target, _ classIndex: Int, _ threshold: Float) -> Tensor {
        var g = Tensor(zeros: logits.shape)
        let h = logits.shape.height, w = logits.shape.width, base = classIndex * h * w
        switch target {
        case .pixel(let y, let x):
            g.data[base + min(h - 1, max(0, y)) * w + min(w - 1, max(0, x))] = 1
        case .region(let y0, let x0, let rh, let rw):
            for y in max(0, y0)..<min(h, y0 + rh) { for x in max(0, x0)..<min(w, x0 + rw) { g.data[base + y * w + x] = 1 } }
        case .mask:
            let p = TensorOps.probabilities(fromLogits: logits)
            let labels = TensorOps.labels(p, threshold: threshold)
            let wanted: UInt8 = logits.shape.channels == 1 ? 1 : UInt8(classIndex)
            var any = false
            for i in 0..<(h * w) where labels[i] == wanted { g.data[base + i] = 1; any = true }
            if !any { for i in 0..<(h * w) { g.data[base + i] = 1 } }   // empty prediction: explain the whole image
        }
        return g
    }

    static func resized(_ map: [Float], _ h: Int, _ w: Int, _ oh: Int, _ ow: Int) -> [Float] {
        if h == oh && w == ow { return map }
        let t = Tensor(shape: TensorShape(batch: 1, channels: 1, height: h, width: w), data: map)
        return TensorOps.resize(t, height: oh, width: ow).data
    }

    /// Positive part, scaled to [0, 1] (all zeros stays all zeros).
    static func normalized(_ map: [Float]) -> [Float] {
        let positive = map.map { max(0, $0) }
        let top = positive.max() ?? 0
        return top > 0 ? positive.map { $0 / top } : positive
    }

    /// Mean heat inside the mask over mean heat outside it (how well an explanation points at the lesion).
    public static func insideOutsideRatio(_ heat: [Float], mask: [UInt8]) -> Double {
        var inside = 0.0, outside = 0.0, ni = 0, no = 0
        for i in 0..<heat.count {
            if mask[i] != 0 { inside += Double(heat[i]); ni += 1 } else { outside += Double(heat[i]); no += 1 }
        }
        guard ni > 0, no > 0 else { return .nan }
        return (inside / Double(ni)) / max(outside / Double(no), 1e-12)
    }
}
