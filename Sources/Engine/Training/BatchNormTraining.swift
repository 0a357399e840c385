import Kernels


/// Training-mode BatchNorm over threads: `F32BatchNormTraining`'s passes spread over `threads` (its fixed
/// chunks keep the result the same for any thread count).
extension Autograd {
    func batchNormForward(_ x: UnsafePointer<Float>, pixels: Int, channels c: Int, gamma: [Float], beta: [Float],
                          epsilon: Float, activation: FusedActivation, runningMean: inout [Float], runningVariance: inout [Float],
                          output y: UnsafeMutablePointer<Float>) -> F32BatchNormTraining.Saved {
        let threads = self.threads, momentum = batchNormMomentum, synchronize = batchNormSynchronizer
        return gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            runningMean.withUnsafeMutableBufferPointer { rm in runningVariance.withUnsafeMutableBufferPointer { rv in
                F32BatchNormTraining.forward(x, pixels: pixels, channels: c, gamma: g.baseAddress!, beta: b.baseAddress!, epsilon: epsilon,
                                             momentum: momentum, runningMean: rm.baseAddress!, runningVariance: rv.baseAddress!,
                                             activation: activation, output: y, spread: { ParallelFor.spread($0, threads: threads, $1) },
                                             synchronize: synchronize)
            } }
        } }
    }

    func batchNormBackward(_ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                           activation: FusedActivation, pixels: Int, channels c: Int, gamma: [Float], saved: F32BatchNormTraining.Saved,
                           inputGradient dx: UnsafeMutablePointer<Float>, gammaGradient: inout [Float], betaGradient: inout [Float]) {
        let threads = self.threads, synchronize = batchNormSynchronizer
        gamma.withUnsafeBufferPointer { g in gammaGradient.withUnsafeMutableBufferPointer { dg in betaGradient.withUnsafeMutableBufferPointer { db in
            F32BatchNormTraining.backward(x, outputGradient: dy, activation: activation, pixels: pixels, channels: c,
                                          gamma: g.baseAddress!, saved: saved, inputGradient: dx, gammaGradient: dg.baseAddress!,
                                          betaGradient: db.baseAddress!, spread: { ParallelFor.spread($0, threads: threads, $1) },
                                          synchronize: synchronize)
        } } }
    }
}
