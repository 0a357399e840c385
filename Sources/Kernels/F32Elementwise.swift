/// Elementwise and per-pixel kernels over NHWC data. Plain loops over contiguous floats that LLVM
/// vectorizes; each works on a range of elements or pixels so the caller can split it over threads.
public enum F32Elementwise {
    /// Concatenates images along channels: pixel p of the output is the channels of each input's pixel p, in order.
    /// `inputs` are (pointer, channels) of images with the same pixel count.
    @export(interface)
    public static func concatChannels(_ inputs: [(UnsafePointer<Float>, Int)], output: UnsafeMutablePointer<Float>,
                                      pixels: Range<Int>) {
        var total = 0
        for (_, c) in inputs { total += c }
        for p in pixels {
            var dst = output + p * total
            for (src, c) in inputs {
                copyRun(src + p &* c, into: dst, count: c)
                dst += c
            }
        }
    }

    /// Copies `count` floats with vector loads and stores inline: a concatenation copies a few dozen floats per
    /// pixel and operand, where a `memmove` call per run cost more than the copy.
    @inline(__always)
    static func copyRun(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k &+ 16 <= count {
            UnsafeMutableRawPointer(dst + k).storeBytes(of: UnsafeRawPointer(src + k).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
            k &+= 16
        }
        while k &+ 4 <= count {
            UnsafeMutableRawPointer(dst + k).storeBytes(of: UnsafeRawPointer(src + k).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            k &+= 4
        }
        while k < count { dst[k] = src[k]; k &+= 1 }
    }

    /// `out[i] = act(a[i] + b[i])` for i in `range` (a residual add, optionally with ReLU fused).
    @export(interface)
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                           range: Range<Int>, activation: FusedActivation = .none) {
        switch activation {
        case .none: for i in range { output[i] = a[i] + b[i] }
        case .relu: for i in range { let v = a[i] + b[i]; output[i] = v < 0 ? 0 : v }
        case .leakyRelu(let s): for i in range { let v = a[i] + b[i]; output[i] = v < 0 ? v * s : v }
        }
    }

    /// `out[i] = a[i] * b[i]` for i in `range`.
    @export(interface)
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                range: Range<Int>) {
        for i in range { output[i] = a[i] * b[i] }
    }

    /// Multiplies every pixel of one image by a per-channel vector `scale[c]` (squeeze-excitation), pixels `pixels`.
    @export(interface)
    public static func multiplyByChannel(_ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, channels c: Int,
                                         output: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
        for p in pixels {
            let src = x + p * c, dst = output + p * c
            for ch in 0..<c { dst[ch] = src[ch] * scale[ch] }
        }
    }

    /// Multiplies every channel of pixel p of one image by `gate[p]` (a 1-channel spatial map: attention gates).
    @export(interface)
    public static func multiplyBySpatial(_ x: UnsafePointer<Float>, gate: UnsafePointer<Float>, channels c: Int,
                                         output: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
        for p in pixels {
            let src = x + p * c, dst = output + p * c, g = gate[p]
            for ch in 0..<c { dst[ch] = src[ch] * g }
        }
    }

    /// Inference BatchNorm as a per-channel affine map `out = act(x * scale[c] + shift[c])`, pixels `pixels`.
    /// `BatchNormParameters.affine` turns gamma, beta, mean, variance and epsilon into scale and shift;
    /// the Engine folds the same scale and shift into a preceding convolution instead, when there is one.
    @export(interface)
    public static func channelAffine(_ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                     channels c: Int, output: UnsafeMutablePointer<Float>, pixels: Range<Int>,
                                     activation: FusedActivation = .none) {
        for p in pixels {
            let src = x + p * c, dst = output + p * c
            switch activation {
            case .none: for ch in 0..<c { dst[ch] = src[ch] * scale[ch] + shift[ch] }
            case .relu: for ch in 0..<c { let v = src[ch] * scale[ch] + shift[ch]; dst[ch] = v < 0 ? 0 : v }
            case .leakyRelu(let s): for ch in 0..<c { let v = src[ch] * scale[ch] + shift[ch]; dst[ch] = v < 0 ? v * s : v }
            }
        }
    }

    /// Softmax over the channels of each pixel in `pixels` (numerically stable: max subtracted first).
    @export(interface)
    public static func softmaxChannels(_ x: UnsafePointer<Float>, channels c: Int, output: UnsafeMutablePointer<Float>,
                                       pixels: Range<Int>) {
        for p in pixels {
            let src = x + p * c, dst = output + p * c
            var m = src[0]
            for ch in 1..<c where src[ch] > m { m = src[ch] }
            var sum: Float = 0
            for ch in 0..<c { let e = Exp.float(src[ch] - m); dst[ch] = e; sum += e }
            let inv = 1 / sum
            for ch in 0..<c { dst[ch] *= inv }
        }
    }
}

/// Inference BatchNorm parameters and their per-channel affine form.
public struct BatchNormParameters {
    public var gamma: [Float]
    public var beta: [Float]
    public var mean: [Float]
    public var variance: [Float]
    public var epsilon: Float

    public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Float = 1e-5) {
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
    }

    /// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`, computed in Float64.
    public var affine: (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: gamma.count), shift = scale
        for c in 0..<gamma.count {
            let s = Double(gamma[c]) / (Double(variance[c]) + Double(epsilon)).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
        }
        return (scale, shift)
    }
}
