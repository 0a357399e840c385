/// UNet 3+ (Huang et al., 2020): full-scale skip connections. Every decoder stage takes every encoder
/// scale and every deeper decoder stage, each brought to its size (max pooling from above, bilinear
/// upsampling from below) and through a 3x3 conv-norm-ReLU of `baseWidth` channels (64 in the paper),
/// concatenated to `(depth + 1) x baseWidth` (320) and fused by one more 3x3 conv-norm-ReLU. The encoder is
/// U-Net's. With deep supervision, every decoder stage and the bottleneck get a 3x3 head, upsampled to full
/// resolution ("head1" is the top stage; the runtime averages the heads' probabilities); without, the top
/// stage alone has one ("logits"). With the classification-guided module (`classificationGuided`), a 1x1
/// convolution on the bottleneck, max-pooled over the image, gives one presence logit per class ("cgm.presence";
/// binary models: the foreground; softmax models: every class but the background), and every head passes
/// through a `PresenceGate` that closes the classes it says are absent, as the paper multiplies the side
/// outputs by the classifier's decision. (The paper's dropout before the 1x1 convolution is left out.)
enum UNet3Plus {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        var x = b.input()
        var encoder: [Value] = []
        for level in 0...c.depth {
            if level > 0 { x = b.pool(encoder[level - 1], name: "pool\(level)") }
            encoder.append(b.doubleConv(x, c.width(level), name: level == c.depth ? "bottleneck" : "enc\(level + 1)"))
        }
        let part = c.baseWidth, fused = (c.depth + 1) * part
        var decoder = [Value?](repeating: nil, count: c.depth + 1)
        decoder[c.depth] = encoder[c.depth]
        for stage in stride(from: c.depth - 1, through: 0, by: -1) {
            let name = "dec\(stage + 1)"
            var parts: [Value] = []
            for j in 0..<stage {
                let factor = 1 << (stage - j)
                let pooled = b.g.maxPool(encoder[j], kernel: factor, stride: factor, name: "\(name).from_enc\(j + 1).pool")
                parts.append(b.convNormRelu(pooled, part, name: "\(name).from_enc\(j + 1)"))
            }
            parts.append(b.convNormRelu(encoder[stage], part, name: "\(name).from_enc\(stage + 1)"))
            for j in (stage + 1)...c.depth {
                let source = j == c.depth ? "bottleneck" : "dec\(j + 1)"
                let up = b.g.upsample(decoder[j]!, scale: 1 << (j - stage), name: "\(name).from_\(source).resize")
                parts.append(b.convNormRelu(up, part, name: "\(name).from_\(source)"))
            }
            decoder[stage] = b.convNormRelu(b.g.concat(parts, name: "\(name).cat"), fused, name: name)
        }
        var gate: (Value, String) -> Value = { head, _ in head }
        if c.classificationGuided {
            let firstGated = c.classes == 1 ? 0 : 1
            let logits = b.g.conv(encoder[c.depth], c.classes - firstGated, kernel: 1, name: "cgm.conv")
            let presence = b.g.globalMaxPool(logits, name: "cgm.presence")
            gate = { head, name in b.g.presenceGate(head, presence: presence, firstGated: firstGated, name: name + ".gate") }
        }
        if c.deepSupervision {
            for stage in 0...c.depth {
                var head = b.g.conv(decoder[stage]!, c.classes, kernel: 3, name: "head\(stage + 1)")
                if stage > 0 { head = b.g.upsample(head, scale: 1 << stage, name: "head\(stage + 1).resize") }
                b.g.output("head\(stage + 1)", gate(head, "head\(stage + 1)"))
            }
        } else {
            b.g.output("logits", gate(b.g.conv(decoder[0]!, c.classes, kernel: 3, name: "head"), "head"))
        }
    }
}
