/// The blocks the architectures share, on top of `GraphBuilder`, following the config's normalization
/// and upsampling choices.
final class BlockBuilder {
    let config: ArchitectureConfig
    let g: GraphBuilder

    init(_ config: ArchitectureConfig) {
        self.config = config
        g = GraphBuilder(seed: config.seed)
    }

    var graph: Graph { g.graph }

    /// The network's input, "image": an image, or a volume for a 3D config.
    func input() -> Value { g.input("image", channels: config.inChannels, spatialRank: config.spatialRank) }

    /// conv (k x k) -> [BatchNorm] -> ReLU (ReLU skipped when `relu` is false).
    func convNormRelu(_ x: Value, _ out: Int, kernel: Int = 3, relu: Bool = true, name: String) -> Value {
        let batch = config.normalization == .batch
        var y = g.conv(x, out, kernel: kernel, bias: !batch, name: name + ".conv")
        if batch { y = g.batchNorm(y, name: name + ".bn") }
        return relu ? g.relu(y) : y
    }

    /// Two 3x3 conv-norm-ReLU layers (the U-Net block), then squeeze-and-excitation when the config asks.
    func doubleConv(_ x: Value, _ out: Int, name: String) -> Value {
        let y = convNormRelu(convNormRelu(x, out, name: name + ".0"), out, name: name + ".1")
        return config.squeezeExcitation ? squeezeExcitation(y, name: name + ".se") : y
    }

    /// Squeeze-and-excitation (Hu et al., 2018): global average pooling, a 1x1 conv to channels/16 with ReLU,
    /// a 1x1 conv back with sigmoid, and the input scaled by that channel gate.
    func squeezeExcitation(_ x: Value, reduction: Int = 16, name: String) -> Value {
        let squeezed = g.adaptiveAveragePool(x, bins: 1, name: name + ".pool")
        let hidden = g.relu(g.conv(squeezed, max(1, x.channels / reduction), kernel: 1, name: name + ".fc1"))
        let gate = g.sigmoid(g.conv(hidden, x.channels, kernel: 1, name: name + ".fc2"))
        return g.mul(x, gate, name: name + ".scale")
    }

    /// A residual block (He et al., as Res-UNet uses it): two 3x3 conv-norm layers plus a shortcut
    /// (identity, or 1x1 conv-norm when the width changes), summed, then ReLU.
    func residualBlock(_ x: Value, _ out: Int, name: String) -> Value {
        var body = convNormRelu(convNormRelu(x, out, name: name + ".0"), out, relu: false, name: name + ".1")
        // SE-ResNet: the excitation scales the residual branch before the sum.
        if config.squeezeExcitation { body = squeezeExcitation(body, name: name + ".se") }
        let shortcut = x.channels == out ? x : convNormRelu(x, out, kernel: 1, relu: false, name: name + ".shortcut")
        return g.relu(g.add(body, shortcut, name: name + ".add"))
    }

    /// 2x up-step to `out` channels: transposed conv 2x2 stride 2, or bilinear 2x then a 1x1 conv.
    func up(_ x: Value, _ out: Int, name: String) -> Value {
        switch config.upsampling {
        case .transposedConv:
            return g.convTranspose(x, out, kernel: 2, stride: 2, name: name + ".up")
        case .bilinear:
            let y = g.upsample(x, scale: 2, name: name + ".resize")
            return g.conv(y, out, kernel: 1, name: name + ".up")
        }
    }

    func pool(_ x: Value, name: String) -> Value { g.maxPool(x, name: name) }

    /// The U-Net encoder and bottleneck with `block` as the level block: returns the bottleneck's output
    /// and the skip of every level (full resolution first).
    func encoder(_ input: Value, block: (Value, Int, String) -> Value) -> (bottom: Value, skips: [Value]) {
        var x = input
        var skips: [Value] = []
        for level in 0..<config.depth {
            x = block(x, config.width(level), "enc\(level + 1)")
            skips.append(x)
            x = pool(x, name: "pool\(level + 1)")
        }
        return (block(x, config.width(config.depth), "bottleneck"), skips)
    }

    /// 1x1 head to the class logits.
    func head(_ x: Value, name: String = "head") -> Value { g.conv(x, config.classes, kernel: 1, name: name) }
}
