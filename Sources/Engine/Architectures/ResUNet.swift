/// Res-UNet (Zhang et al., 2018; residual blocks in a U-Net): the U-Net layout with every double
/// convolution replaced by a residual block (`BlockBuilder.residualBlock`).
enum ResUNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        var (x, skips) = b.encoder(b.input()) { b.residualBlock($0, $1, name: $2) }
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            b.level = level
            let up = b.up(x, c.width(level), name: "dec\(level + 1)")
            x = b.residualBlock(b.g.concat([skips[level], up], name: "dec\(level + 1).cat"), c.width(level),
                                name: "dec\(level + 1)")
        }
        b.g.output("logits", b.head(x))
    }
}
