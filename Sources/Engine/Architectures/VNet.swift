/// V-Net (Milletari et al., 2016), as its reference implementations build it: 5x5x5 convolutions with PReLU,
/// each stage a residual function (its input added to the output of its last convolution), 2x2x2 stride-2
/// convolutions that double the channels instead of pooling, and 2x2x2 stride-2 transposed convolutions up.
/// With base 16 and depth 4: stages of 1, 2, 3, 3 convolutions at 16-32-64-128 channels, 3 at the 256-channel
/// bottom, then up-stages that halve the channels, concatenate the skip and run 3, 3, 2, 1 convolutions at
/// twice the level's width; a 1x1x1 head. Normalization follows the config (BatchNorm by default).
enum VNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        let down = [1, 2, 3, 3, 3, 3], up = [3, 3, 2, 1, 1, 1]
        b.level = 0
        var x = b.input()
        // Input stage: the convolution's output plus the input (through a 1x1x1 projection to the width).
        x = stage(b, x, c.width(0), convolutions: 1, shortcut: b.g.conv(x, c.width(0), kernel: 1, name: "enc1.shortcut"), name: "enc1")
        var skips: [Value] = []
        for level in 1...c.depth {
            skips.append(x)
            b.level = level
            let name = level == c.depth ? "bottleneck" : "enc\(level + 1)"
            let reduced = prelu(b, b.normalized(b.g.conv(x, c.width(level), kernel: c.pool(level - 1), stride: c.pool(level - 1), padding: [0, 0, 0],
                                                         bias: c.normalization == .none, name: name + ".down"), relu: false, name: name + ".down"), name + ".down")
            x = stage(b, reduced, c.width(level), convolutions: down[min(level, down.count - 1)], shortcut: reduced, name: name)
        }
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            b.level = level
            let name = "dec\(level + 1)"
            let w = c.pool(level)
            let upped = prelu(b, b.normalized(b.g.convTranspose(x, c.width(level), kernel: w, stride: w, bias: c.normalization == .none, name: name + ".up"),
                                              relu: false, name: name + ".up"), name + ".up")
            let joined = b.g.concat([skips[level], upped], name: name + ".cat")
            x = stage(b, joined, joined.channels, convolutions: up[min(c.depth - 1 - level, up.count - 1)], shortcut: joined, name: name)
        }
        b.g.output("logits", b.head(x))
    }

    /// `convolutions` 5x5x5 conv-norm layers (PReLU between them), the shortcut added to the last one's
    /// output, then PReLU.
    static func stage(_ b: BlockBuilder, _ x: Value, _ width: Int, convolutions: Int, shortcut: Value, name: String) -> Value {
        var y = x
        for k in 0..<convolutions {
            let kernel = b.config.kernel(b.level).map { $0 == 1 ? 1 : 5 }
            y = b.normalized(b.g.conv(y, width, kernel: kernel, bias: b.config.normalization == .none, name: "\(name).\(k).conv"), relu: false,
                             name: "\(name).\(k)")
            if k + 1 < convolutions { y = prelu(b, y, "\(name).\(k)") }
        }
        return prelu(b, b.g.add(y, shortcut, name: name + ".add"), name)
    }

    static func prelu(_ b: BlockBuilder, _ x: Value, _ name: String) -> Value { b.g.prelu(x, name: name + ".prelu") }
}
