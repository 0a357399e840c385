/// PSPNet (Zhao et al., 2017) on a small conv backbone: `depth` stages of two 3x3 convs, each but the
/// last followed by a 2x2 max pool (features at 1/2^(depth-1) resolution), then the pyramid pooling module:
/// adaptive average pooling to 1x1, 2x2, 3x3 and 6x6 bins, a 1x1 conv-norm-ReLU to a quarter of the
/// channels per bin, bilinear resampling back, concatenation with the features, a 3x3 conv-norm-ReLU,
/// the 1x1 head, and bilinear resampling to the input size.
enum PSPNet {
    static let bins = [1, 2, 3, 6]

    static func build(_ b: BlockBuilder) {
        let c = b.config
        let input = b.input()
        var x = input
        for stage in 0..<c.depth {
            if stage > 0 { x = b.pool(x, name: "pool\(stage)") }
            x = b.doubleConv(x, c.width(stage), name: "stage\(stage + 1)")
        }
        let features = x
        let branch = max(1, features.channels / 4)
        var pyramid = [features]
        for bin in bins {
            let pooled = b.g.adaptiveAveragePool(features, bins: bin, name: "ppm\(bin).pool")
            let reduced = b.convNormRelu(pooled, branch, kernel: 1, name: "ppm\(bin)")
            pyramid.append(b.g.resize(reduced, like: features, name: "ppm\(bin).resize"))
        }
        let fused = b.convNormRelu(b.g.concat(pyramid, name: "ppm.cat"), c.width(0) * 2, name: "fuse")
        let logits = b.head(fused)
        b.g.output("logits", b.g.resize(logits, like: input, name: "logits.resize"))
    }
}
