/// U-Net (Ronneberger et al., 2015) with "same" padding: `depth` encoder levels of two 3x3 convs and a
/// 2x2 max pool, a bottleneck at `width(depth)` channels, and a decoder that up-steps, concatenates
/// the skip and applies two 3x3 convs. `unet-s` (base 32, depth 4) has widths 32-64-128-256 and 512.
enum UNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        var (x, skips) = b.encoder(b.input()) { b.doubleConv($0, $1, name: $2) }
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            b.level = level
            let up = b.up(x, c.width(level), name: "dec\(level + 1)")
            x = b.doubleConv(b.g.concat([skips[level], up], name: "dec\(level + 1).cat"), c.width(level), name: "dec\(level + 1)")
        }
        b.g.output("logits", b.head(x))
    }
}
