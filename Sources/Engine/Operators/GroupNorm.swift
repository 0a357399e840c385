import Kernels

/// GroupNorm (PyTorch `GroupNorm`): the channels in `groups` contiguous groups, each normalized over its
/// channels and pixels per image, then `gamma[c]` and `beta[c]`. InstanceNorm (affine) is `groups ==
/// channels`; LayerNorm over C, H, W is `groups == 1`. The same in training and inference (no running
/// statistics). fp32 in int8 models (a float island).
public struct GroupNorm: OperatorDefinition {
    public var groups: Int
    public var gamma: Int
    public var beta: Int
    public var epsilon: Float

    public init(groups: Int, gamma: Int, beta: Int, epsilon: Float = 1e-5) {
        self.groups = groups
        self.gamma = gamma
        self.beta = beta
        self.epsilon = epsilon
    }

    public static let fileName = "group_norm"
    public var kind: String { "group_norm" }
    public var op: Op { .groupNorm(self) }
    public var parameterIndices: [Int] { [gamma, beta] }

    public func remappingParameters(_ map: (Int) -> Int) -> Op {
        .groupNorm(GroupNorm(groups: groups, gamma: map(gamma), beta: map(beta), epsilon: epsilon))
    }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("groups", groups)
        a.int("gamma", gamma)
        a.int("beta", beta)
        a.float("epsilon", epsilon)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .groupNorm(GroupNorm(groups: try a.int("groups"), gamma: try a.int("gamma"), beta: try a.int("beta"), epsilon: try a.float("epsilon")))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let c = operands[0].channels
        if groups <= 0 || c % groups != 0 { throw context.fail("\(c) channels do not split into \(groups) groups") }
        if !(epsilon > 0) { throw context.fail("epsilon must be positive, got \(epsilon)") }
        try context.expect(parameter: gamma, count: c, "gamma")
        try context.expect(parameter: beta, count: c, "beta")
        return operands[0]
    }

    /// Runs every image of a batch: per image, the groups' statistics over threads (split by group), then
    /// the normalization over threads (split by pixel rows). Each value is computed the same way whatever the
    /// split, so the output has the same bits for any thread count.
    private func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ s: TensorShape, _ g: [Float], _ b: [Float], threads: Int) {
        let groups = self.groups, epsilon = self.epsilon, channels = s.channels, pixels = s.pixelsPerImage, per = channels / groups
        var mean = [Float](repeating: 0, count: groups), inverse = [Float](repeating: 0, count: groups)
        var channelMean = [Float](repeating: 0, count: channels), channelInverse = [Float](repeating: 0, count: channels)
        g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
            mean.withUnsafeMutableBufferPointer { mp in inverse.withUnsafeMutableBufferPointer { vp in
                channelMean.withUnsafeMutableBufferPointer { cm in channelInverse.withUnsafeMutableBufferPointer { cv in
                    let gamma = gp.baseAddress!, beta = bp.baseAddress!
                    let m = mp.baseAddress!, v = vp.baseAddress!, channelM = cm.baseAddress!, channelV = cv.baseAddress!
                    for n in 0..<s.batch {
                        let image = x + n * s.elementsPerImage, out = y + n * s.elementsPerImage
                        // Blocks of 8 groups, so InstanceNorm keeps its 8-channel vectors whatever the split.
                        let blocks = (groups + 7) / 8
                        ParallelFor.run(count: blocks, threads: threads) { range, _ in
                            let lower = range.lowerBound * 8, upper = min(groups, range.upperBound * 8)
                            F32GroupNorm.statistics(image, pixels: pixels, channels: channels, groups: groups, epsilon: epsilon,
                                                    groupRange: lower..<upper, mean: m, inverseStd: v)
                        }
                        for c in 0..<channels {
                            channelM[c] = m[c / per]
                            channelV[c] = v[c / per]
                        }
                        ParallelFor.run(count: pixels, threads: threads) { rows, _ in
                            F32GroupNorm.normalize(image, pixels: rows, channels: channels, mean: channelM, inverseStd: channelV,
                                                   gamma: gamma, beta: beta, output: out)
                        }
                    }
                } }
            } }
        } }
    }

    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let g = context.floats(gamma), b = context.floats(beta)
        return PreparedOp { r in self.run(r.x, r.output, r.shape, g, b, threads: r.threads) }
    }

    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], g = context.values(gamma), b = context.values(beta)
        var out = context.zeros()
        let s = out.shape, per = s.channels / groups, count = Double(per * s.pixelsPerImage)
        for n in 0..<s.batch { for group in 0..<groups {
            let channels = (group * per)..<((group + 1) * per)
            var mean = 0.0, variance = 0.0
            for c in channels { for y in 0..<s.rows { for xx in 0..<s.width { mean += x.data[x.index(n, c, y, xx)] } } }
            mean /= count
            for c in channels { for y in 0..<s.rows { for xx in 0..<s.width {
                let d = x.data[x.index(n, c, y, xx)] - mean
                variance += d * d
            } } }
            let inverse = 1 / (variance / count + Double(epsilon)).squareRoot()
            for c in channels { for y in 0..<s.rows { for xx in 0..<s.width {
                let k = x.index(n, c, y, xx)
                out.data[k] = (x.data[k] - mean) * inverse * g[c] + b[c]
            } } }
        } }
        return out
    }

    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let s = tape.shapes[i], g = tape.parameter(gamma), b = tape.parameter(beta), threads = tape.threads
        tape.values[tape.graph.nodes[i].inputs[0]].withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { yp in
            run(xp.baseAddress!, yp.baseAddress!, s, g, b, threads: threads)
        } }
    }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dy: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let s = tape.shapes[i], j = tape.graph.nodes[i].inputs[0], g = tape.parameter(gamma)
        var dx = Autograd.uninitialized(dy.count)
        var dg = [Float](repeating: 0, count: s.channels), db = [Float](repeating: 0, count: s.channels)
        // Images in order, so the parameter gradients sum the same way for any thread count.
        tape.values[j].withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in dy.withUnsafeBufferPointer { dp in
            dx.withUnsafeMutableBufferPointer { xg in dg.withUnsafeMutableBufferPointer { gg in db.withUnsafeMutableBufferPointer { bg in
                for n in 0..<s.batch {
                    let o = n * s.elementsPerImage
                    F32GroupNorm.backward(xp.baseAddress! + o, pixels: s.pixelsPerImage, channels: s.channels, groups: groups,
                                          epsilon: epsilon, gamma: gp.baseAddress!, outputGradient: dp.baseAddress! + o,
                                          inputGradient: xg.baseAddress! + o, gammaGradient: gg.baseAddress!, betaGradient: bg.baseAddress!)
                }
            } } }
        } } }
        tape.addGradient(gamma, dg)
        tape.addGradient(beta, db)
        Autograd.accumulate(&grads[j], dx)
    }

    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
