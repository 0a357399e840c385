import Engine

/// The loss of UNet 3+'s classification-guided module: binary cross-entropy between the presence logits (the
/// second operand of the graph's `PresenceGate`s, N x K x 1 x 1) and whether each gated class is in each
/// image's mask. The trainer adds it to the segmentation loss, as the paper does; the gates themselves pass
/// no gradient to the presence logits.
struct PresenceLoss {
    /// The node of the presence logits.
    let node: Int
    /// The first class the gates close (0 for a binary model, 1 past a softmax model's background).
    let firstGated: Int

    /// The module's loss, if the graph has the module.
    init?(_ graph: Graph) {
        for n in graph.nodes {
            if case .presenceGate(let g) = n.op {
                node = n.inputs[1]
                firstGated = g.firstGated
                return
            }
        }
        return nil
    }

    /// 1 where image n's mask holds gated class k, else 0 (N x K x 1 x 1).
    func targets(_ target: Target, classes k: Int) -> Tensor {
        switch target {
        case .binary(let mask):
            let n = mask.shape.batch, perImage = mask.shape.elementsPerImage
            var t = Tensor(zeros: TensorShape(batch: n, channels: 1, height: 1, width: 1))
            for i in 0..<n where mask.data[(i * perImage)..<((i + 1) * perImage)].contains(where: { $0 > 0.5 }) { t.data[i] = 1 }
            return t
        case .classes(let ids, let n, let h, let w):
            var t = Tensor(zeros: TensorShape(batch: n, channels: k, height: 1, width: 1))
            for i in 0..<n {
                for p in (i * h * w)..<((i + 1) * h * w) {
                    let c = Int(ids[p]) - firstGated
                    if c >= 0 && c < k { t.data[i * k + c] = 1 }
                }
            }
            return t
        }
    }

    /// The loss and the gradient at the presence logits of the last forward pass.
    func evaluate(_ autograd: Autograd, _ target: Target, across sum: ProcessSum?) -> (loss: Double, gradient: Tensor) {
        let logits = autograd.activation(of: node)
        return BinaryLosses.bce(logits, targets(target, classes: logits.shape.channels), positiveWeight: 1, sum)
    }
}
