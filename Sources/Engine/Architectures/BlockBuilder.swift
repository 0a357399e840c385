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

    /// The level (0 = full resolution, `depth` = the bottleneck) the blocks being built sit at: their
    /// convolutions take that level's kernel (`ArchitectureConfig.kernel`). The encoder and decoder loops set it.
    var level = 0

    /// The network's input, "image": an image, or a volume for a 3D config.
    func input() -> Value { g.input("image", channels: config.inChannels, spatialRank: config.spatialRank) }

    /// conv -> [BatchNorm or InstanceNorm] -> ReLU (ReLU skipped when `relu` is false). The kernel is the
    /// current level's (3 per axis unless the config plans otherwise), or 1 per axis for `kernel: 1`.
    func convNormRelu(_ x: Value, _ out: Int, kernel: Int = 3, relu: Bool = true, name: String) -> Value {
        let window = kernel == 3 ? config.kernel(level) : Array(repeating: kernel, count: config.spatialRank)
        return normalized(g.conv(x, out, kernel: window, bias: config.normalization == .none, name: name + ".conv"), relu: relu, name: name)
    }

    /// The config's normalization of a convolution's output, then ReLU unless `relu` is false.
    func normalized(_ y: Value, relu: Bool = true, name: String) -> Value {
        var y = y
        switch config.normalization {
        case .batch: y = g.batchNorm(y, name: name + ".bn")
        case .instance: y = g.instanceNorm(y, name: name + ".in")
        case .none: break
        }
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

    /// The up-step from the current level + 1 back to the current level, to `out` channels: transposed conv with
    /// the down-step's window as kernel and stride (2x2 stride 2), or bilinear 2x then a 1x1 conv.
    func up(_ x: Value, _ out: Int, name: String) -> Value {
        switch config.upsampling {
        case .transposedConv:
            let w = config.pool(level)
            return g.convTranspose(x, out, kernel: w, stride: w, name: name + ".up")
        case .bilinear:
            let y = g.upsample(x, scale: 2, name: name + ".resize")
            return g.conv(y, out, kernel: 1, name: name + ".up")
        }
    }

    /// Down-step from the current level: max pooling over its window (2x2, or the planned one).
    func pool(_ x: Value, name: String) -> Value {
        if config.levelPools == nil { return g.maxPool(x, name: name) }
        return g.maxPool(x, kernel: config.pool(level), name: name)
    }

    /// The U-Net encoder and bottleneck with `block` as the level block: returns the bottleneck's output
    /// and the skip of every level (full resolution first).
    func encoder(_ input: Value, block: (Value, Int, String) -> Value) -> (bottom: Value, skips: [Value]) {
        var x = input
        var skips: [Value] = []
        for level in 0..<config.depth {
            self.level = level
            x = block(x, config.width(level), "enc\(level + 1)")
            skips.append(x)
            x = pool(x, name: "pool\(level + 1)")
        }
        level = config.depth
        return (block(x, config.width(config.depth), "bottleneck"), skips)
    }

    /// 1x1 head to the class logits.
    func head(_ x: Value, name: String = "head") -> Value { g.conv(x, config.classes, kernel: 1, name: name) }
}
