/// Attention U-Net (Oktay et al., 2018): a U-Net whose skips pass through additive attention gates.
/// At each decoder level, with g the up-stepped decoder features and x the skip (same resolution):
/// `psi = sigmoid(BN(conv1x1(ReLU(BN(W_g g) + BN(W_x x)))))` with `F_int = width / 2` channels, and the
/// decoder concatenates `x * psi` (a 1-channel spatial gate) with g.
enum AttentionUNet {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        var (x, skips) = b.encoder(b.input()) { b.doubleConv($0, $1, name: $2) }
        for level in stride(from: c.depth - 1, through: 0, by: -1) {
            b.level = level
            let name = "dec\(level + 1)"
            let gate = b.up(x, c.width(level), name: name)
            let attended = attentionGate(b, skip: skips[level], gate: gate, name: name + ".att")
            x = b.doubleConv(b.g.concat([attended, gate], name: name + ".cat"), c.width(level), name: name)
        }
        b.g.output("logits", b.head(x))
    }

    static func attentionGate(_ b: BlockBuilder, skip: Value, gate: Value, name: String) -> Value {
        let inner = max(1, skip.channels / 2)
        let g1 = b.convNormRelu(gate, inner, kernel: 1, relu: false, name: name + ".wg")
        let x1 = b.convNormRelu(skip, inner, kernel: 1, relu: false, name: name + ".wx")
        let sum = b.g.relu(b.g.add(g1, x1, name: name + ".add"))
        let psi = b.g.sigmoid(b.convNormRelu(sum, 1, kernel: 1, relu: false, name: name + ".psi"))
        return b.g.mul(skip, psi, name: name + ".gate")
    }
}
