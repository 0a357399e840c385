/// Res-UNet (Zhang et al., 2018; residual blocks in a U-Net): the U-Net layout with every double
/// convolution replaced by a residual block (`BlockBuilder.residualBlock`).
enum ResUNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        var x = b.g.input("image", channels: c.inChannels)
        var skips: [Value] = []
        for level in 0..<c.depth {
            x = b.residualBlock(x, c.width(level), name: "enc\(level + 1)")
            skips.append(x)
            x = b.pool(x, name: "pool\(level + 1)")
        }
        x = b.residualBlock(x, c.width(c.depth), name: "bottleneck")
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            let up = b.up(x, c.width(level), name: "dec\(level + 1)")
            x = b.residualBlock(b.g.concat([skips[level], up], name: "dec\(level + 1).cat"), c.width(level),
                                name: "dec\(level + 1)")
        }
        b.g.output("logits", b.head(x))
    }
}
