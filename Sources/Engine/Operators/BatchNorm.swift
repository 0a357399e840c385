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
    public var op: Op { .batchNorm(self) }

    public func remappingParameters(_ map: (Int) -> Int) -> Op {
        var a = self
        a.gamma = map(gamma)
        a.beta = map(beta)
        a.mean = map(mean)
        a.variance = map(variance)
        return .batchNorm(a)
    }

    public func fusing(_ f: FusedActivation) -> Op? {
        guard activation == .none else { return nil }
        var a = self
        a.activation = f
        return .batchNorm(a)
    }
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

extension BatchNormAttributes {
    public func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor {
        let x = operands[0], gamma = context.values(self.gamma), beta = context.values(self.beta)
        var mean = context.values(self.mean), variance = context.values(self.variance)
        var out = context.zeros()
        let s = out.shape
        if context.batchStatistics {
            let count = Double(s.batch * s.pixelsPerImage)
            for c in 0..<s.channels {
                var m = 0.0, v = 0.0
                for n in 0..<s.batch { for y in 0..<s.rows { for xx in 0..<s.width { m += x.data[out.index(n, c, y, xx)] } } }
                m /= count
                for n in 0..<s.batch { for y in 0..<s.rows { for xx in 0..<s.width {
                    let d = x.data[out.index(n, c, y, xx)] - m
                    v += d * d
                } } }
                mean[c] = m
                variance[c] = v / count
            }
        }
        for n in 0..<s.batch { for c in 0..<s.channels {
            let inv = 1 / (variance[c] + Double(epsilon)).squareRoot()
            for y in 0..<s.rows { for xx in 0..<s.width {
                let j = out.index(n, c, y, xx)
                out.data[j] = activation.apply((x.data[j] - mean[c]) * inv * gamma[c] + beta[c])
            } }
        } }
        return out
    }
}

extension BatchNormAttributes {
    /// Training normalizes with the batch's statistics and updates the running ones; explanations
    /// (`training: false`) use the running ones.
    public func trainingForward(_ tape: Autograd, node i: Int, output out: inout [Float]) throws(GraphError) {
        let x = tape.values[tape.graph.nodes[i].inputs[0]], s = tape.shapes[i]
        let pixels = s.batch * s.pixelsPerImage
        let gamma = tape.parameter(self.gamma), beta = tape.parameter(self.beta), activation = tape.batchNormActivation(i, self)
        if tape.training {
            var mean = tape.parameter(self.mean), variance = tape.parameter(self.variance)
            let saved = x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
                tape.batchNormForward(xp.baseAddress!, pixels: pixels, channels: s.channels, gamma: gamma, beta: beta, epsilon: epsilon,
                                      activation: activation, runningMean: &mean, runningVariance: &variance, output: $0.baseAddress!)
            } }
            tape.setParameter(self.mean, mean)
            tape.setParameter(self.variance, variance)
            tape.batchNormSaved[i] = saved
        } else {
            let (scale, shift) = BatchNormParameters(gamma: gamma, beta: beta, mean: tape.parameter(self.mean), variance: tape.parameter(self.variance),
                                                     epsilon: epsilon).affine
            for k in 0..<out.count { let c = k % s.channels; out[k] = activation.apply(x[k] * scale[c] + shift[c]) }
        }
    }

    /// Training's backward recomputes its fused activation's sign from the input (`F32BatchNormTraining`); only
    /// the backward of an inference-mode forward (explanations, where nothing is released) reads the output.
    public var backwardReadsOutput: Bool { false }

    public func backward(_ tape: Autograd, node i: Int, outputGradient dyIn: [Float], operandGradients grads: inout [[Float]?]) throws(GraphError) {
        let j = tape.graph.nodes[i].inputs[0], s = tape.shapes[i], activation = tape.batchNormActivation(i, self)
        let pixels = s.batch * s.pixelsPerImage
        var dgamma = [Float](repeating: 0, count: s.channels), dbeta = [Float](repeating: 0, count: s.channels)
        let gamma = tape.parameter(self.gamma)
        if tape.training, let saved = tape.batchNormSaved[i] {
            // The input gradient overwrites the input when this is the input's last backward reader (the kernel
            // reads each element before it writes it): one full-size array less at the top level's peak.
            var x = tape.values[j], dx: [Float] = []
            func run(_ input: UnsafePointer<Float>, into inputGradient: UnsafeMutablePointer<Float>) {
                dyIn.withUnsafeBufferPointer { dp in
                    tape.batchNormBackward(input, outputGradient: dp.baseAddress!, activation: activation,
                                           pixels: pixels, channels: s.channels, gamma: gamma, saved: saved, inputGradient: inputGradient,
                                           gammaGradient: &dgamma, betaGradient: &dbeta)
                }
            }
            if tape.releaseOperand(j, readLastBy: i) {
                x.withUnsafeMutableBufferPointer { run(UnsafePointer($0.baseAddress!), into: $0.baseAddress!) }
                swap(&dx, &x)
            } else {
                dx = Autograd.uninitialized(s.elementCount)
                x.withUnsafeBufferPointer { xp in dx.withUnsafeMutableBufferPointer { run(xp.baseAddress!, into: $0.baseAddress!) } }
            }
            tape.addGradient(self.gamma, dgamma)
            tape.addGradient(beta, dbeta)
            Autograd.accumulate(&grads[j], dx)
            return
        }
        var dx = Autograd.uninitialized(s.elementCount)
        do {
            let dy = tape.activationBackward(activation, tape.values[i], dyIn)
            let mean = tape.parameter(self.mean), variance = tape.parameter(self.variance), x = tape.values[j]
            for k in 0..<dx.count {
                let c = k % s.channels
                let inv = 1 / (variance[c] + epsilon).squareRoot()
                dx[k] = dy[k] * gamma[c] * inv
                dgamma[c] += dy[k] * (x[k] - mean[c]) * inv
                dbeta[c] += dy[k]
            }
        }
        tape.addGradient(self.gamma, dgamma)
        tape.addGradient(beta, dbeta)
        Autograd.accumulate(&grads[j], dx)
    }
}

extension BatchNormAttributes {
    /// fp32 in int8 models (the passes fold BatchNorm into the convolution before quantization; one left over is a float island).
    public func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int? { nil }
}
