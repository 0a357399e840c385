/// U-Net (Ronneberger et al., 2015) with "same" padding: `depth` encoder levels of two 3x3 convs and a
/// 2x2 max pool, a bottleneck at `width(depth)` channels, and a decoder that up-steps, concatenates
/// the skip and applies two 3x3 convs. `unet-s` (base 32, depth 4) has widths 32-64-128-256 and 512.
///
/// With deep supervision (nnU-Net's), decoder levels 1 ... depth - 2 (1/2 to 1/2^(depth-2) of the input's
/// resolution; not the lowest, as nnU-Net gives it weight 0) each get a 1x1 head, resized (bi- or trilinear) to
/// the input's size (pooling may skip an axis): auxiliary outputs `aux1`, `aux2`, ... before `logits`. Training weighs them into the
/// loss (`DeepSupervision`); inference and export drop them (`Graph.droppingAuxiliaryOutputs`).
enum UNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        let input = b.input()
        var (x, skips) = b.encoder(input) { b.doubleConv($0, $1, name: $2) }
        var auxiliary: [(String, Value)] = []
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            b.level = level
            let up = b.up(x, c.width(level), name: "dec\(level + 1)")
            x = b.doubleConv(b.g.concat([skips[level], up], name: "dec\(level + 1).cat"), c.width(level), name: "dec\(level + 1)")
            if c.deepSupervision && level >= 1 && level <= c.depth - 2 {
                let name = GraphOutput.auxiliaryName(level: level)
                auxiliary.append((name, b.g.resize(b.head(x, name: name + ".head"), like: input, name: name + ".resize")))
            }
        }
        for (name, head) in auxiliary.reversed() { b.g.output(name, head) }
        b.g.output("logits", b.head(x))
    }
}
