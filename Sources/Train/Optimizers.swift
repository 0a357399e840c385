import Foundation
import Engine

/// The update rules, as PyTorch defines them (torch.optim.SGD, Adam, AdamW).
public enum OptimizerKind: Equatable {
    case sgd(momentum: Float, nesterov: Bool)
    case adam(beta1: Float, beta2: Float, epsilon: Float)
    /// Adam with decoupled weight decay.
    case adamW(beta1: Float, beta2: Float, epsilon: Float)
}

/// An optimizer over an `Autograd`'s learnable parameters, with L2 (SGD, Adam) or decoupled (AdamW)
/// weight decay and optional clipping of the global gradient norm. Its state (moments, step count) is
/// plain arrays, so a checkpoint can store it for an exact resume.
public final class Optimizer {
    public let kind: OptimizerKind
    public var weightDecay: Float
    /// Clip the global L2 norm of all gradients to this value (nil: no clipping).
    public var clipNorm: Float?
    public private(set) var step = 0
    public var firstMoments: [[Float]] = []
    public var secondMoments: [[Float]] = []

    public init(_ kind: OptimizerKind, weightDecay: Float = 0, clipNorm: Float? = nil) {
        self.kind = kind
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
    }

    /// Applies one update with learning rate `lr` from the gradients in `model`.
    public func update(_ model: Autograd, learningRate lr: Float) {
        let learnable = model.learnableParameters
        if firstMoments.isEmpty {
            firstMoments = model.gradients.map { [Float](repeating: 0, count: $0.count) }
            secondMoments = firstMoments
        }
        step += 1
        var scale: Float = 1
        if let clipNorm {
            var sum = 0.0
            for i in learnable { for g in model.gradients[i] { sum += Double(g) * Double(g) } }
            let norm = Float(sum.squareRoot())
            if norm > clipNorm { scale = clipNorm / (norm + 1e-6) }
        }
        let threads = model.threads, kind = self.kind, weightDecay = self.weightDecay, step = self.step
        for i in learnable {
            model.updateParameter(i) { w, grad in
                w.withUnsafeMutableBufferPointer { wb in grad.withUnsafeBufferPointer { gb in
                    firstMoments[i].withUnsafeMutableBufferPointer { mb in secondMoments[i].withUnsafeMutableBufferPointer { vb in
                        let w = wb.baseAddress!, g = gb.baseAddress!, m = mb.baseAddress!, v = vb.baseAddress!
                        // Elementwise, so splitting the elements over threads cannot change a bit.
                        ParallelFor.run(count: wb.count, threads: wb.count < 16_384 ? 1 : threads) { range, _ in
                            Optimizer.apply(kind, step: step, learningRate: lr, weightDecay: weightDecay, gradientScale: scale,
                                            weights: w, gradients: g, first: m, second: v, range: range)
                        }
                    } }
                } }
            }
        }
    }

    /// One update of elements `range`: the PyTorch definitions of SGD (momentum, Nesterov), Adam and AdamW.
    static func apply(_ kind: OptimizerKind, step: Int, learningRate lr: Float, weightDecay: Float, gradientScale scale: Float,
                      weights w: UnsafeMutablePointer<Float>, gradients grad: UnsafePointer<Float>,
                      first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>, range: Range<Int>) {
        switch kind {
        case .sgd(let momentum, let nesterov):
            for k in range {
                var g = grad[k] * scale + weightDecay * w[k]
                if momentum != 0 {
                    let b = step == 1 ? g : momentum * first[k] + g
                    first[k] = b
                    g = nesterov ? g + momentum * b : b
                }
                w[k] -= lr * g
            }
        case .adam(let b1, let b2, let eps), .adamW(let b1, let b2, let eps):
            let decoupled: Bool
            if case .adamW = kind { decoupled = true } else { decoupled = false }
            let c1 = 1 - power(b1, step), c2 = 1 - power(b2, step)
            for k in range {
                var g = grad[k] * scale
                if decoupled { w[k] -= lr * weightDecay * w[k] } else { g += weightDecay * w[k] }
                first[k] = b1 * first[k] + (1 - b1) * g
                second[k] = b2 * second[k] + (1 - b2) * g * g
                let mHat = first[k] / c1, vHat = second[k] / c2
                w[k] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
    }

    /// Restores the state saved from another optimizer (resume).
    public func restore(step: Int, first: [[Float]], second: [[Float]]) {
        self.step = step
        firstMoments = first
        secondMoments = second
    }

    static func power(_ x: Float, _ n: Int) -> Float {
        var r: Float = 1
        for _ in 0..<n { r *= x }
        return r
    }
}

/// Learning rate per step: a linear warm-up, then a constant, step, cosine or polynomial decay.
public struct LearningRateSchedule: Equatable {
    public enum Shape: Equatable {
        case constant
        /// Multiply by `gamma` every `every` steps.
        case step(every: Int, gamma: Float)
        /// Half a cosine from the base rate to `minimum` over the steps after warm-up.
        case cosine(minimum: Float)
        /// `(1 - t)^power` over the steps after warm-up (as in DeepLab and nnU-Net, power 0.9).
        case poly(power: Float)
    }

    public var base: Float
    public var shape: Shape
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(base: Float, shape: Shape = .constant, warmupSteps: Int = 0, totalSteps: Int) {
        self.base = base
        self.shape = shape
        self.warmupSteps = warmupSteps
        self.totalSteps = max(1, totalSteps)
    }

    /// The rate of step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Double(step - warmupSteps) / Double(span))
        switch shape {
        case .constant: return base
        case .step(let every, let gamma):
            var r = base
            for _ in 0..<((step - warmupSteps) / max(1, every)) { r *= gamma }
            return r
        case .cosine(let minimum):
            return minimum + (base - minimum) * Float(0.5 * (1 + Foundation.cos(Double.pi * t)))
        case .poly(let power):
            return base * Float(BinaryLosses.pow(1 - t, Double(power)))
        }
    }
}
