import Kernels

/// Inference BatchNorm: parameters gamma, beta, running mean and running variance, each `[channels]`.
public struct BatchNormAttributes: OperatorDefinition {
    public var gamma: Int
    public var beta: Int
    public var mean: Int
    public var variance: Int
    public var epsilon: Float
    public var activation: FusedActivation

    public init(gamma: Int, beta: Int, mean: Int, variance: Int, epsilon: Float = 1e-5,
                activation: FusedActivation = .none) {
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
        self.activation = activation
    }

    public static let fileName = "batch_norm"
    public var kind: String { "batch_norm" }
    public var parameterIndices: [Int] { [gamma, beta, mean, variance] }

    public func encode(into a: inout NodeAttributeWriter) {
        a.int("gamma", gamma); a.int("beta", beta); a.int("mean", mean); a.int("variance", variance)
        a.float("epsilon", epsilon)
        a.activation(activation)
    }

    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> Op {
        .batchNorm(BatchNormAttributes(gamma: try a.int("gamma"), beta: try a.int("beta"), mean: try a.int("mean"),
                                       variance: try a.int("variance"), epsilon: try a.float("epsilon"), activation: try a.activation()))
    }

    public func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        let c = operands[0].channels
        for p in parameterIndices { try context.expect(parameter: p, count: c, "batch-norm parameter") }
        return operands[0]
    }
}

extension BatchNormAttributes {
    /// An inference BatchNorm that the passes could not fold: a per-channel affine map.
    public func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp {
        let (scale, shift) = BatchNormParameters(gamma: context.floats(gamma), beta: context.floats(beta), mean: context.floats(mean),
                                                 variance: context.floats(variance), epsilon: epsilon).affine
        let activation = self.activation
        return PreparedOp { r in
            scale.withUnsafeBufferPointer { s in
                shift.withUnsafeBufferPointer { t in
                    let sp = s.baseAddress!, tp = t.baseAddress!, x = r.x, output = r.output, channels = r.shape.channels
                    ParallelFor.run(count: r.pixels, threads: r.threads) { range, _ in
                        F32Elementwise.channelAffine(x, scale: sp, shift: tp, channels: channels, output: output,
                                                     pixels: range, activation: activation)
                    }
                }
            }
        }
    }
}
