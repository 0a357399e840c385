import Kernels
import Engine

/// Training-mode BatchNorm over threads: the chunked sums of `F32BatchNormTraining` spread over
/// `threads`, reduced in chunk order, so the result is the same for any thread count.
extension Autograd {
    func batchNormForward(_ x: UnsafePointer<Float>, pixels: Int, channels c: Int, gamma: [Float], beta: [Float],
                          epsilon: Float, activation: FusedActivation, runningMean: inout [Float], runningVariance: inout [Float],
                          output y: UnsafeMutablePointer<Float>) -> F32BatchNormTraining.Saved {
        let chunks = F32BatchNormTraining.chunkCount(pixels: pixels), threads = self.threads
        var partial = [Double](repeating: 0, count: chunks * c), total = [Double](repeating: 0, count: 2 * c)
        var mean = [Float](repeating: 0, count: c), scale = mean, shift = mean
        partial.withUnsafeMutableBufferPointer { pp in
            let partial = pp.baseAddress!
            ParallelFor.run(count: chunks, threads: threads) { range, _ in
                F32BatchNormTraining.channelSums(x, pixels: pixels, channels: c, center: nil, chunks: range, into: partial)
            }
            total.withUnsafeMutableBufferPointer { F32BatchNormTraining.reduce(partial, chunks: chunks, channels: c, into: $0.baseAddress!) }
            for ch in 0..<c { mean[ch] = Float(total[ch] / Double(pixels)) }
            mean.withUnsafeBufferPointer { mp in
                let center = mp.baseAddress!
                ParallelFor.run(count: chunks, threads: threads) { range, _ in
                    F32BatchNormTraining.channelSums(x, pixels: pixels, channels: c, center: center, chunks: range, into: partial)
                }
            }
            total.withUnsafeMutableBufferPointer { F32BatchNormTraining.reduce(partial, chunks: chunks, channels: c, into: $0.baseAddress! + c) }
        }
        let saved = total.withUnsafeBufferPointer { t in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            runningMean.withUnsafeMutableBufferPointer { rm in runningVariance.withUnsafeMutableBufferPointer { rv in
                mean.withUnsafeBufferPointer { m in scale.withUnsafeMutableBufferPointer { sc in shift.withUnsafeMutableBufferPointer { sh in
                    F32BatchNormTraining.finishStatistics(sum: t.baseAddress!, squaredDeviations: t.baseAddress! + c, pixels: pixels, channels: c,
                                                          gamma: g.baseAddress!, beta: b.baseAddress!, epsilon: epsilon, momentum: batchNormMomentum,
                                                          runningMean: rm.baseAddress!, runningVariance: rv.baseAddress!, mean: m.baseAddress!,
                                                          scale: sc.baseAddress!, shift: sh.baseAddress!)
                } } }
            } }
        } } }
        scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
            let scale = sc.baseAddress!, shift = sh.baseAddress!
            ParallelFor.run(count: pixels, threads: threads) { range, _ in
                F32BatchNormTraining.normalize(x, channels: c, scale: scale, shift: shift, activation: activation, pixels: range, output: y)
            }
        } }
        return saved
    }

    func batchNormBackward(_ x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                           activation: FusedActivation, pixels: Int, channels c: Int, gamma: [Float], saved: F32BatchNormTraining.Saved,
                           inputGradient dx: UnsafeMutablePointer<Float>, gammaGradient: inout [Float], betaGradient: inout [Float]) {
        let chunks = F32BatchNormTraining.chunkCount(pixels: pixels), threads = self.threads
        var partial = [Double](repeating: 0, count: 2 * chunks * c), total = [Double](repeating: 0, count: 2 * c)
        var factors = [Float](repeating: 0, count: 3 * c)
        saved.mean.withUnsafeBufferPointer { mp in
            let mean = mp.baseAddress!
            partial.withUnsafeMutableBufferPointer { pp in
                let partial = pp.baseAddress!
                ParallelFor.run(count: chunks, threads: threads) { range, _ in
                    F32BatchNormTraining.gradientSums(x, output: y, outputGradient: dy, activation: activation, pixels: pixels, channels: c,
                                                      mean: mean, chunks: range, sumDy: partial, sumDyCentered: partial + chunks * c)
                }
                total.withUnsafeMutableBufferPointer {
                    F32BatchNormTraining.reduce(partial, chunks: chunks, channels: c, into: $0.baseAddress!)
                    F32BatchNormTraining.reduce(partial + chunks * c, chunks: chunks, channels: c, into: $0.baseAddress! + c)
                }
            }
            total.withUnsafeBufferPointer { t in gamma.withUnsafeBufferPointer { g in factors.withUnsafeMutableBufferPointer { f in
                gammaGradient.withUnsafeMutableBufferPointer { dg in betaGradient.withUnsafeMutableBufferPointer { db in
                    F32BatchNormTraining.finishGradient(sumDy: t.baseAddress!, sumDyCentered: t.baseAddress! + c, pixels: pixels, channels: c,
                                                        gamma: g.baseAddress!, saved: saved, k: f.baseAddress!, meanDy: f.baseAddress! + c,
                                                        kc: f.baseAddress! + 2 * c, gammaGradient: dg.baseAddress!, betaGradient: db.baseAddress!)
                } }
            } } }
            factors.withUnsafeBufferPointer { fp in
                let f = fp.baseAddress!
                ParallelFor.run(count: pixels, threads: threads) { range, _ in
                    F32BatchNormTraining.inputGradient(x, output: y, outputGradient: dy, activation: activation, channels: c, mean: mean,
                                                       k: f, meanDy: f + c, kc: f + 2 * c, pixels: range, inputGradient: dx)
                }
            }
        }
    }
}
