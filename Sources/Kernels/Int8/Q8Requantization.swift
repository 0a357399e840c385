/// The arithmetic contract of segrun's int8 path (see docs/QUANTIZATION.md).
///
/// Activations are `UInt8` with a per-tensor scale and zero point, `real = scale * (q - zeroPoint)`.
/// Weights are symmetric `Int8` per output channel. Products are summed exactly in `Int32`.
/// Every conversion back to 8 bits is this one float formula, in this order, in every kernel and in
/// the reference twins, so fast and reference results are equal bit for bit:
///
///     v = Float(acc) * multiplier          // one IEEE float32 multiply, never fused
///     v = activation(v)                    // ReLU / LeakyReLU on the real-valued sign
///     v = min(max(v, -zeroPoint), 255 - zeroPoint)
///     q = Int32(v rounded half to even) + zeroPoint
public enum Q8Requantization {
    /// Requantizes one value (the scalar spec; the vector kernels compute the same).
    @inline(__always)
    public static func requantize(_ acc: Int32, multiplier: Float, activation: FusedActivation, zeroPoint: Int32) -> UInt8 {
        var v = Float(acc) * multiplier
        v = activation.apply(v)
        v = min(max(v, Float(-zeroPoint)), Float(255 &- zeroPoint))
        return UInt8(truncatingIfNeeded: Int32(v.rounded(.toNearestOrEven)) &+ zeroPoint)
    }

    /// Quantizes a real value: `v = x * inverseScale`, clamped and rounded half to even, plus the zero point.
    @inline(__always)
    public static func quantize(_ x: Float, inverseScale: Float, zeroPoint: Int32) -> UInt8 {
        var v = x * inverseScale
        v = min(max(v, Float(-zeroPoint)), Float(255 &- zeroPoint))
        // NaN compares false both ways and would survive the clamp: map it to the zero point.
        if v != v { v = 0 }
        return UInt8(truncatingIfNeeded: Int32(v.rounded(.toNearestOrEven)) &+ zeroPoint)
    }

    @inline(__always)
    public static func dequantize(_ q: UInt8, scale: Float, zeroPoint: Int32) -> Float {
        Float(Int32(q) &- zeroPoint) * scale
    }

    /// The vector twin of `requantize` over 8 lanes. Rounding uses the float "magic number": for
    /// |v| < 2^22, `v + 1.5 * 2^23` rounds v to an integer half to even (IEEE default rounding), and the
    /// integer sits in the low mantissa bits; this is exactly `v.rounded(.toNearestOrEven)`, without the
    /// generic (scalarized) SIMD rounding and conversion initializers.
    @inline(__always)
    public static func requantize(_ acc: SIMD8<Int32>, multiplier: SIMD8<Float>, activation: FusedActivation,
                                  zeroPoint: Int32) -> SIMD8<UInt8> {
        round(Q8Lanes.float(acc) * multiplier, activation: activation, zeroPoint: zeroPoint)
    }

    /// The tail of the vector `requantize` from the real-valued `v`: activation, clamp, round half to even,
    /// zero point.
    @inline(__always)
    public static func round(_ value: SIMD8<Float>, activation: FusedActivation, zeroPoint: Int32) -> SIMD8<UInt8> {
        var v = value
        switch activation {
        case .none: break
        case .relu: v = v.replacing(with: 0, where: v .< 0)
        case .leakyRelu(let slope): v = v.replacing(with: v * slope, where: v .< 0)
        }
        let lo = SIMD8<Float>(repeating: Float(-zeroPoint)), hi = SIMD8<Float>(repeating: Float(255 &- zeroPoint))
        v = v.replacing(with: lo, where: v .< lo)
        v = v.replacing(with: hi, where: v .> hi)
        let biased = v + SIMD8<Float>(repeating: magic)
        let q = unsafeBitCast(biased, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: magicBits &- zeroPoint)
        return Q8Lanes.lowBytes(q)
    }

    /// `requantize` over 16 lanes: the same operations in the same order, so the same bits (the output stage's
    /// step where a row has 16 columns or more).
    @inline(__always)
    public static func requantize(_ acc: SIMD16<Int32>, multiplier: SIMD16<Float>, activation: FusedActivation,
                                  zeroPoint: Int32) -> SIMD16<UInt8> {
        var v = Q8Lanes.float(acc) * multiplier
        switch activation {
        case .none: break
        case .relu: v = v.replacing(with: 0, where: v .< 0)
        case .leakyRelu(let slope): v = v.replacing(with: v * slope, where: v .< 0)
        }
        let lo = SIMD16<Float>(repeating: Float(-zeroPoint)), hi = SIMD16<Float>(repeating: Float(255 &- zeroPoint))
        v = v.replacing(with: lo, where: v .< lo)
        v = v.replacing(with: hi, where: v .> hi)
        let biased = v + SIMD16<Float>(repeating: magic)
        return Q8Lanes.lowBytes(unsafeBitCast(biased, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: magicBits &- zeroPoint))
    }

    /// 1.5 * 2^23 and its bit pattern (see the vector `requantize`).
    static let magic: Float = 12_582_912
    static let magicBits: Int32 = 0x4B40_0000

    /// The float output stage over 8 lanes: `activation(Float(acc) * multiplier)`.
    @inline(__always)
    static func dequantize(_ acc: SIMD8<Int32>, multiplier: SIMD8<Float>, activation: FusedActivation) -> SIMD8<Float> {
        let v = Q8Lanes.float(acc) * multiplier
        switch activation {
        case .none: return v
        case .relu: return v.replacing(with: 0, where: v .< 0)
        case .leakyRelu(let slope): return v.replacing(with: v * slope, where: v .< 0)
        }
    }
}

/// Per-tensor affine quantization of an activation tensor: `real = scale * (q - zeroPoint)`, q in 0...255.
public struct Q8TensorParameters: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// Parameters that represent `[low, high]` (widened to include 0, so that zero padding is exact).
    /// A collapsed range (a constant tensor) gets a defined scale: the range is widened to 1e-6 or |x|.
    public init(low: Float, high: Float) {
        let lo = min(0, low.isFinite ? low : 0), hi = max(0, high.isFinite ? high : 0)
        var range = hi - lo
        if range < 1e-6 { range = max(1e-6, max(abs(lo), abs(hi))) }
        let scale = range / 255
        var zp = (-lo / scale).rounded(.toNearestOrEven)
        zp = min(255, max(0, zp))
        self.init(scale: scale, zeroPoint: Int32(zp))
    }

    public var inverseScale: Float { 1 / scale }
    /// The real values that 0 and 255 stand for.
    public var representableRange: ClosedRange<Float> { scale * Float(-zeroPoint)...scale * Float(255 - zeroPoint) }
    public var description: String { "scale \(scale) zero point \(zeroPoint)" }
}
