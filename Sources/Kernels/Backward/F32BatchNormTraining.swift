/// BatchNorm in training mode over a batch (NHWC: `pixels` = N*H*W rows of `channels`): normalizes with
/// the batch statistics, updates the running statistics with `momentum` (PyTorch's convention: unbiased
/// variance for the running estimate), and back-propagates through the batch statistics. A fused
/// activation (ReLU, LeakyReLU) is applied in the normalizing pass and undone in the backward passes from the
/// output's sign, recomputed from the input with the forward's own scale and shift (the same bits as the
/// forward's output, which backward therefore never needs: training can free it).
///
/// The statistics are sums over every pixel of the batch. To split them over threads and still get the
/// same bits for any thread count, each sum is cut into fixed chunks of `chunkPixels` pixels: a tile
/// function sums a range of chunks into per-chunk partials (Float within a chunk, vectorized over
/// channels), and `reduce` adds the partials in chunk order in Float64. The elementwise passes work on
/// any range of pixels. `forward` and `backward` run the passes through a `WorkSpreader`, which Train
/// spreads over threads.
public enum F32BatchNormTraining {
    /// Pixels per partial sum: fixed, so results never depend on how chunks are spread over threads.
    public static let chunkPixels = 256

    public static func chunkCount(pixels: Int) -> Int { (pixels + chunkPixels - 1) / chunkPixels }

    /// Per-channel batch mean and 1/sqrt(var + eps) that the backward pass reuses, and the number of pixels the
    /// statistics are over (this batch's, or every process's batches' together when synchronized).
    public struct Saved {
        public var mean: [Float]
        public var inverseStd: [Float]
        public var pixels: Int = 0
        /// The forward's `y = activation(x * scale + shift)` per channel, so the output can be recomputed bit for bit.
        public var scale: [Float] = []
        public var shift: [Float] = []
    }

    /// Synchronized BatchNorm (data-parallel training over several processes): sums a short vector of
    /// per-channel Float64 sums over every process, in place, in an order that depends on nothing but the
    /// processes' ranks. The statistics (and, backward, the gradient sums) are then those of the global batch.
    public typealias Synchronizer = (UnsafeMutableBufferPointer<Double>) -> Void

    // MARK: tile functions

    /// `partial[k * c + ch]` = sum over chunk k's pixels of `x` (or of `(x - center)^2` when `center` is
    /// given), for each chunk k in `chunks`.
    public static func channelSums(_ x: UnsafePointer<Float>, pixels: Int, channels c: Int, center: UnsafePointer<Float>?,
                                   chunks: Range<Int>, into partial: UnsafeMutablePointer<Double>) {
        for k in chunks {
            let p0 = k &* chunkPixels, p1 = min(pixels, p0 &+ chunkPixels)
            var ch = 0
            while ch &+ 8 <= c {
                let m = center.map { SIMD8<Float>(UnsafeBufferPointer(start: $0 + ch, count: 8)) } ?? .zero
                var acc = SIMD8<Float>()
                var row = x + (p0 &* c &+ ch)
                for _ in p0..<p1 {
                    let v = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<Float>.self)
                    if center == nil { acc += v } else { let d = v - m; acc = acc.addingProduct(d, d) }
                    row += c
                }
                for l in 0..<8 { partial[k &* c &+ ch &+ l] = Double(acc[l]) }
                ch &+= 8
            }
            while ch < c {
                let m = center?[ch] ?? 0
                var acc: Float = 0
                for p in p0..<p1 { let v = x[p &* c &+ ch]; if center == nil { acc += v } else { acc += (v - m) * (v - m) } }
                partial[k &* c &+ ch] = Double(acc)
                ch &+= 1
            }
        }
    }

    /// For each chunk k in `chunks`: `sumDy[k * c + ch]` = sum of g and `sumDyCentered[k * c + ch]` = sum of
    /// g * (x - mean), where g is `dy` taken back through `activation` (at the forward's `x * scale + shift`).
    public static func gradientSums(_ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                    outputGradient dy: UnsafePointer<Float>,
                                    activation: FusedActivation, pixels: Int, channels c: Int, mean: UnsafePointer<Float>,
                                    chunks: Range<Int>, sumDy: UnsafeMutablePointer<Double>, sumDyCentered: UnsafeMutablePointer<Double>) {
        for k in chunks {
            let p0 = k &* chunkPixels, p1 = min(pixels, p0 &+ chunkPixels)
            var ch = 0
            while ch &+ 8 <= c {
                let m = SIMD8<Float>(UnsafeBufferPointer(start: mean + ch, count: 8))
                let a = UnsafeRawPointer(scale + ch).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(shift + ch).loadUnaligned(as: SIMD8<Float>.self)
                var s = SIMD8<Float>(), sx = SIMD8<Float>()
                var offset = p0 &* c &+ ch
                for _ in p0..<p1 {
                    let v = UnsafeRawPointer(x + offset).loadUnaligned(as: SIMD8<Float>.self)
                    let g = backThrough(activation, v, a, b, UnsafeRawPointer(dy + offset).loadUnaligned(as: SIMD8<Float>.self))
                    s += g
                    sx = sx.addingProduct(g, v - m)
                    offset &+= c
                }
                for l in 0..<8 { sumDy[k &* c &+ ch &+ l] = Double(s[l]); sumDyCentered[k &* c &+ ch &+ l] = Double(sx[l]) }
                ch &+= 8
            }
            while ch < c {
                var s: Float = 0, sx: Float = 0
                for p in p0..<p1 {
                    let i = p &* c &+ ch
                    let g = backThrough(activation, x[i], scale[ch], shift[ch], dy[i])
                    s += g
                    sx += g * (x[i] - mean[ch])
                }
                sumDy[k &* c &+ ch] = Double(s)
                sumDyCentered[k &* c &+ ch] = Double(sx)
                ch &+= 1
            }
        }
    }

    /// Adds the partials of `chunks` chunks in chunk order: `total[ch]` = sum over k of `partial[k * c + ch]`.
    public static func reduce(_ partial: UnsafePointer<Double>, chunks: Int, channels c: Int, into total: UnsafeMutablePointer<Double>) {
        for ch in 0..<c { total[ch] = 0 }
        for k in 0..<chunks { for ch in 0..<c { total[ch] += partial[k &* c &+ ch] } }
    }

    /// `y = activation(x * scale + shift)` per channel, over `pixels`: pixel `p`'s `c` channels are read at
    /// `x + p * c` and written at `y + p * outputStride` (`c` for an array of its own, the concatenation's
    /// channel count for a slot inside one).
    public static func normalize(_ x: UnsafePointer<Float>, channels c: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                 activation: FusedActivation, pixels: Range<Int>, output y: UnsafeMutablePointer<Float>, outputStride: Int) {
        for p in pixels {
            let row = p &* c, out = y + p &* outputStride
            var ch = 0
            while ch &+ 8 <= c {
                let v = UnsafeRawPointer(x + (row &+ ch)).loadUnaligned(as: SIMD8<Float>.self)
                let a = UnsafeRawPointer(scale + ch).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(shift + ch).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + ch).storeBytes(of: activation.apply(b.addingProduct(v, a)), as: SIMD8<Float>.self)
                ch &+= 8
            }
            while ch < c { out[ch] = activation.apply(shift[ch].addingProduct(x[row &+ ch], scale[ch])); ch &+= 1 }
        }
    }

    /// `dx = k * (g - meanDy) - (x - mean) * kc` per channel, over `pixels`, where g is `dy` taken back
    /// through `activation` (at `x * scale + shift`); `k = gamma * invstd`, `meanDy = sum(g) / M`,
    /// `kc = k * invstd^2 * sum(g * (x - mean)) / M`.
    /// Each element is read before it is written, so `dx` may be `x` or `dy` (training writes it over `x`).
    public static func inputGradient(_ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                     outputGradient dy: UnsafePointer<Float>,
                                     activation: FusedActivation, channels c: Int, mean: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                     meanDy: UnsafePointer<Float>, kc: UnsafePointer<Float>, pixels: Range<Int>,
                                     inputGradient dx: UnsafeMutablePointer<Float>) {
        for p in pixels {
            let row = p &* c
            var ch = 0
            while ch &+ 8 <= c {
                let i = row &+ ch
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                let g = backThrough(activation, v, UnsafeRawPointer(scale + ch).loadUnaligned(as: SIMD8<Float>.self),
                                    UnsafeRawPointer(shift + ch).loadUnaligned(as: SIMD8<Float>.self),
                                    UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self))
                let centered = v - UnsafeRawPointer(mean + ch).loadUnaligned(as: SIMD8<Float>.self)
                let scaled = UnsafeRawPointer(k + ch).loadUnaligned(as: SIMD8<Float>.self) * (g - UnsafeRawPointer(meanDy + ch).loadUnaligned(as: SIMD8<Float>.self))
                let gradient = scaled.addingProduct(-centered, UnsafeRawPointer(kc + ch).loadUnaligned(as: SIMD8<Float>.self))
                UnsafeMutableRawPointer(dx + i).storeBytes(of: gradient, as: SIMD8<Float>.self)
                ch &+= 8
            }
            while ch < c {
                let i = row &+ ch
                let g = backThrough(activation, x[i], scale[ch], shift[ch], dy[i])
                dx[i] = (k[ch] * (g - meanDy[ch])).addingProduct(-(x[i] - mean[ch]), kc[ch])
                ch &+= 1
            }
        }
    }

    /// `dy` taken back through `activation` at the output `activation(x * a + b)`, computed as `normalize` does
    /// (one fused multiply-add, then the activation), so its sign is the forward output's bit for bit.
    @inline(__always)
    static func backThrough(_ activation: FusedActivation, _ x: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>,
                            _ dy: SIMD8<Float>) -> SIMD8<Float> {
        switch activation {
        case .none: return dy
        case .relu: return dy.replacing(with: 0, where: activation.apply(b.addingProduct(x, a)) .<= 0)
        case .leakyRelu(let slope): return dy.replacing(with: dy * slope, where: activation.apply(b.addingProduct(x, a)) .<= 0)
        }
    }

    @inline(__always)
    static func backThrough(_ activation: FusedActivation, _ x: Float, _ a: Float, _ b: Float, _ dy: Float) -> Float {
        switch activation {
        case .none: return dy
        case .relu: return activation.apply(b.addingProduct(x, a)) > 0 ? dy : 0
        case .leakyRelu(let slope): return activation.apply(b.addingProduct(x, a)) > 0 ? dy : dy * slope
        }
    }

    // MARK: per-channel steps between the passes

    /// From the summed statistics: the saved mean and inverse std, the normalizing `scale` and `shift`, and
    /// the running statistics' update.
    public static func finishStatistics(sum: UnsafePointer<Double>, squaredDeviations: UnsafePointer<Double>, pixels: Int, channels c: Int,
                                        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, momentum: Float,
                                        runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>,
                                        mean: UnsafePointer<Float>, scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>) -> Saved {
        var saved = Saved(mean: [Float](repeating: 0, count: c), inverseStd: [Float](repeating: 0, count: c))
        for ch in 0..<c {
            // The deviations were taken from the Float mean; correct for its offset from the exact one.
            let exact = sum[ch] / Double(pixels), offset = exact - Double(mean[ch])
            let deviations = max(0, squaredDeviations[ch] - Double(pixels) * offset * offset)
            let biased = deviations / Double(pixels)
            let inverse = 1 / (biased + Double(epsilon)).squareRoot()
            saved.mean[ch] = mean[ch]
            saved.inverseStd[ch] = Float(inverse)
            scale[ch] = Float(inverse * Double(gamma[ch]))
            shift[ch] = Float(Double(beta[ch]) - Double(mean[ch]) * inverse * Double(gamma[ch]))
            let unbiased = pixels > 1 ? deviations / Double(pixels - 1) : biased
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * Float(exact)
            runningVariance[ch] = (1 - momentum) * runningVariance[ch] + momentum * Float(unbiased)
        }
        return saved
    }

    // MARK: whole-batch entry points

    /// The forward pass over the whole batch. `spread` runs the chunk sums and the normalizing pass (the
    /// caller may spread them over threads; the result is the same).
    public static func forward(_ x: UnsafePointer<Float>, pixels: Int, channels c: Int, gamma: UnsafePointer<Float>,
                               beta: UnsafePointer<Float>, epsilon: Float, momentum: Float,
                               runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>,
                               activation: FusedActivation = .none, output y: UnsafeMutablePointer<Float>,
                               spread: WorkSpreader = runOnCallingThread, synchronize: Synchronizer? = nil) -> Saved {
        let chunks = chunkCount(pixels: pixels)
        // total: the channel sums, then the pixel count (synchronized with them), then the squared deviations.
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks * c), total = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c + 1)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
        defer { partial.deallocate(); total.deallocate(); floats.deallocate() }
        spread(chunks) { channelSums(x, pixels: pixels, channels: c, center: nil, chunks: $0, into: partial) }
        reduce(partial, chunks: chunks, channels: c, into: total)
        var count = pixels
        if let synchronize {
            total[c] = Double(pixels)
            synchronize(UnsafeMutableBufferPointer(start: total, count: c + 1))
            count = Int(total[c])
        }
        for ch in 0..<c { floats[ch] = Float(total[ch] / Double(count)) }
        let mean = UnsafePointer(floats)
        spread(chunks) { channelSums(x, pixels: pixels, channels: c, center: mean, chunks: $0, into: partial) }
        reduce(partial, chunks: chunks, channels: c, into: total + c + 1)
        synchronize?(UnsafeMutableBufferPointer(start: total + c + 1, count: c))
        var saved = finishStatistics(sum: total, squaredDeviations: total + c + 1, pixels: count, channels: c, gamma: gamma, beta: beta,
                                     epsilon: epsilon, momentum: momentum, runningMean: runningMean, runningVariance: runningVariance,
                                     mean: floats, scale: floats + c, shift: floats + 2 * c)
        saved.pixels = count
        saved.scale = Array(UnsafeBufferPointer(start: floats + c, count: c))
        saved.shift = Array(UnsafeBufferPointer(start: floats + 2 * c, count: c))
        let scale = UnsafePointer(floats + c), shift = UnsafePointer(floats + 2 * c)
        spread(pixels) { normalize(x, channels: c, scale: scale, shift: shift, activation: activation, pixels: $0, output: y, outputStride: c) }
        return saved
    }

    /// dgamma and dbeta from this process's summed gradients (data-parallel training sums them over processes
    /// with the other parameters' gradients).
    public static func parameterGradients(sumDy: UnsafePointer<Double>, sumDyCentered: UnsafePointer<Double>, channels c: Int, saved: Saved,
                                          gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>) {
        for ch in 0..<c {
            gammaGradient[ch] = Float(sumDyCentered[ch] * Double(saved.inverseStd[ch]))
            betaGradient[ch] = Float(sumDy[ch])
        }
    }

    /// The per-channel factors of `inputGradient` from the summed gradients (of the global batch when synchronized).
    public static func finishGradient(sumDy: UnsafePointer<Double>, sumDyCentered: UnsafePointer<Double>, pixels: Int, channels c: Int,
                                      gamma: UnsafePointer<Float>, saved: Saved, k: UnsafeMutablePointer<Float>,
                                      meanDy: UnsafeMutablePointer<Float>, kc: UnsafeMutablePointer<Float>) {
        let m = Double(pixels)
        for ch in 0..<c {
            let inverse = Double(saved.inverseStd[ch])
            k[ch] = Float(Double(gamma[ch]) * inverse)
            meanDy[ch] = Float(sumDy[ch] / m)
            kc[ch] = Float(Double(gamma[ch]) * inverse * inverse * inverse * sumDyCentered[ch] / m)
        }
    }

    /// `dx = gamma * invstd / M * (M * g - sum(g) - xhat * sum(g * xhat))`, `dgamma = sum(g * xhat)`,
    /// `dbeta = sum(g)`, with M = pixels, xhat the normalized input and g = `dy` taken back through
    /// `activation` at the forward's output, recomputed from `x` and `saved`'s scale and shift. `spread` runs the
    /// chunk sums and the input-gradient pass. `dx` may be `x`: the sums read all of `x` before the
    /// input-gradient pass writes any of it.
    public static func backward(_ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                activation: FusedActivation = .none, pixels: Int, channels c: Int,
                                gamma: UnsafePointer<Float>, saved: Saved, inputGradient dx: UnsafeMutablePointer<Float>,
                                gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>,
                                spread: WorkSpreader = runOnCallingThread, synchronize: Synchronizer? = nil) {
        let chunks = chunkCount(pixels: pixels)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * chunks * c), total = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
        defer { partial.deallocate(); total.deallocate(); floats.deallocate() }
        saved.mean.withUnsafeBufferPointer { mean in saved.scale.withUnsafeBufferPointer { scale in saved.shift.withUnsafeBufferPointer { shift in
            let mean = mean.baseAddress!, scale = scale.baseAddress!, shift = shift.baseAddress!
            spread(chunks) {
                gradientSums(x, scale: scale, shift: shift, outputGradient: dy, activation: activation, pixels: pixels, channels: c, mean: mean,
                             chunks: $0, sumDy: partial, sumDyCentered: partial + chunks * c)
            }
            reduce(partial, chunks: chunks, channels: c, into: total)
            reduce(partial + chunks * c, chunks: chunks, channels: c, into: total + c)
            parameterGradients(sumDy: total, sumDyCentered: total + c, channels: c, saved: saved, gammaGradient: gammaGradient, betaGradient: betaGradient)
            var count = pixels
            if let synchronize {
                synchronize(UnsafeMutableBufferPointer(start: total, count: 2 * c))
                count = saved.pixels
            }
            finishGradient(sumDy: total, sumDyCentered: total + c, pixels: count, channels: c, gamma: gamma, saved: saved,
                           k: floats, meanDy: floats + c, kc: floats + 2 * c)
            let k = UnsafePointer(floats), meanDy = UnsafePointer(floats + c), kc = UnsafePointer(floats + 2 * c)
            spread(pixels) {
                inputGradient(x, scale: scale, shift: shift, outputGradient: dy, activation: activation, channels: c, mean: mean, k: k,
                              meanDy: meanDy, kc: kc, pixels: $0, inputGradient: dx)
            }
        } } }
    }
}
