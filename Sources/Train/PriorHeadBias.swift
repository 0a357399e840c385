import Foundation
import Engine

/// How the output heads' biases start.
public enum HeadBiasStart: String, Equatable, CaseIterable {
    /// `prior` for a multi-class (softmax) head, `random` for a binary (sigmoid) one: the default.
    case auto
    /// At the training masks' class frequencies (`PriorHeadBias`).
    case prior
    /// As the architecture initializes them (PyTorch's default, uniform in +-1/sqrt(fan-in)).
    case random
}

/// Starts every output head at the class frequencies of the training masks: the bias of each head's
/// convolution becomes `log f_c` (centred), or `log(f / (1 - f))` for a binary head, so the first
/// softmax or sigmoid already predicts the class prior (Lin et al., "Focal Loss for Dense Object
/// Detection", section 4.1).
///
/// Why it is the default for multi-class heads: from a random head, a softmax over K classes starts
/// near 1/K everywhere, and the model spends its first few hundred steps learning that almost every
/// pixel is background. On brain-structures (six small classes, 2.4% of the pixels) the cross-entropy
/// was still 1.3 after 6 epochs with random head biases and 0.06 with prior ones; over 40 epochs with a
/// decaying rate, that delay decided whether the small classes were learned at all (pooled Dice 0.00
/// against 0.81). A sigmoid head starts at 0.5, on the decision threshold, so a binary model is not held
/// back the same way, and starting it at a small prior delays its first positive pixel: on the demo's
/// lesions, 4 epochs gave 0.74 from a random head and 0.00 from the prior (docs/TRAINING.md has the runs).
public enum PriorHeadBias {
    /// Each class's share of the pixels of the masks of `indices` (binary data: `[1 - f, f]`).
    public static func frequencies(_ data: SegmentationDataset, _ indices: [Int]) -> [Double] {
        let classes = max(2, data.modelClasses)
        var counts = [Int](repeating: 0, count: classes)
        for i in indices { for v in data.samples[i].mask where Int(v) < classes { counts[Int(v)] += 1 } }
        let total = max(1, counts.reduce(0, +))
        return counts.map { Double($0) / Double(total) }
    }

    /// The head biases for these frequencies: one per output channel.
    public static func biases(frequencies: [Double], outputChannels: Int) -> [Float] {
        let floor = 1e-4
        if outputChannels == 1 {
            let f = min(1 - floor, max(floor, frequencies.count > 1 ? frequencies[1] : 0.5))
            return [Float(Foundation.log(f / (1 - f)))]
        }
        let logs = (0..<outputChannels).map { Foundation.log(max(floor, $0 < frequencies.count ? frequencies[$0] : 0)) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        return logs.map { Float($0 - mean) }
    }

    /// Sets the bias of the convolution that produces each graph output (through any resampling or presence
    /// gate after it) and returns how many heads it set. A head without a bias is left as it is.
    @discardableResult
    public static func apply(to graph: inout Graph, frequencies: [Double]) -> Int {
        var set = 0
        for output in graph.outputs {
            var node = output.node
            while passesHeadThrough(graph.nodes[node].op), let first = graph.nodes[node].inputs.first { node = first }
            guard let b = graph.nodes[node].op.outputBias else { continue }
            let count = graph.parameters[b].elementCount
            graph.parameters[b].data = .f32(biases(frequencies: frequencies, outputChannels: count))
            set += 1
        }
        return set
    }

    /// Ops between a head's convolution and the output that keep its logits' meaning.
    static func passesHeadThrough(_ op: Op) -> Bool {
        switch op {
        case .upsample, .presenceGate: return true
        default: return false
        }
    }
}
