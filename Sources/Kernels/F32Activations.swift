/// Standalone activation kernels over `range` of a float buffer (in place when `x == output`).
/// ReLU and LeakyReLU usually run fused into the producing convolution instead.
public enum F32Activations {
    @export(interface)
    public static func relu(_ x: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { let v = x[i]; output[i] = v < 0 ? 0 : v }
    }

    @export(interface)
    public static func leakyRelu(_ x: UnsafePointer<Float>, slope: Float, output: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { let v = x[i]; output[i] = v < 0 ? v * slope : v }
    }

    /// PReLU with one learned slope per channel; `range` is in pixels of NHWC data with `channels` channels.
    @export(interface)
    public static func prelu(_ x: UnsafePointer<Float>, slopes: UnsafePointer<Float>, channels c: Int,
                             output: UnsafeMutablePointer<Float>, pixels: Range<Int>) {
        for p in pixels {
            let src = x + p * c, dst = output + p * c
            for ch in 0..<c { let v = src[ch]; dst[ch] = v < 0 ? v * slopes[ch] : v }
        }
    }

    /// ELU: `x > 0 ? x : alpha * (exp(x) - 1)`.
    @export(interface)
    public static func elu(_ x: UnsafePointer<Float>, alpha: Float, output: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { let v = x[i]; output[i] = v > 0 ? v : alpha * Exp.minusOne(v) }
    }

    /// Logistic sigmoid `1 / (1 + exp(-x))`, stable for large |x|.
    @export(interface)
    public static func sigmoid(_ x: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, range: Range<Int>) {
        for i in range { output[i] = Exp.sigmoid(x[i]) }
    }
}

/// Exponentials in pure Swift (the standard library has none; Kernels imports nothing else).
public enum Exp {
    /// `e^x` for Float, within 2 ulp: `x = n ln2 + r` with |r| <= ln2/2, a degree-6 polynomial for
    /// `e^r`, and `2^n` built in the exponent bits. Saturates to 0 below -103.9 and to +inf above 88.72.
    @inline(__always)
    public static func float(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 88.72283 { return .infinity }
        if x < -103.97208 { return 0 }
        let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
        // Cody-Waite: ln2 split into a part exact in float and a correction.
        let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n, split in two factors so that n down to -150 and up to 128 stays representable.
        let ni = Int32(n)
        let half = ni / 2
        let s1 = Float(bitPattern: UInt32(truncatingIfNeeded: (half + 127) << 23))
        let s2 = Float(bitPattern: UInt32(truncatingIfNeeded: (ni - half + 127) << 23))
        return p * s1 * s2
    }

    /// `e^x - 1`, accurate near 0 (used by ELU).
    @inline(__always)
    public static func minusOne(_ x: Float) -> Float {
        if abs(x) < 0.25 {
            // Taylor series to x^7: error below 1e-9 relative on |x| < 0.25.
            var p: Float = 1.0 / 5040
            p = p * x + 1.0 / 720
            p = p * x + 1.0 / 120
            p = p * x + 1.0 / 24
            p = p * x + 1.0 / 6
            p = p * x + 0.5
            p = p * x + 1
            return p * x
        }
        return float(x) - 1
    }

    /// `1 / (1 + e^-x)` without overflow for any x.
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + float(-x)) }
        let e = float(x)
        return e / (1 + e)
    }
}
