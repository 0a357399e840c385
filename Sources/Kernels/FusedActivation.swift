/// An activation applied to a kernel's output as it is stored, so that no extra pass over memory is needed.
public enum FusedActivation: Equatable, Sendable {
    case none
    case relu
    /// `x < 0 ? slope * x : x`
    case leakyRelu(slope: Float)

    @inline(__always)
    func apply<V: SIMD>(_ x: V) -> V where V.Scalar == Float {
        switch self {
        case .none: return x
        case .relu: return positivePart(x)
        case .leakyRelu(let slope): return positivePart(x).addingProduct(V(repeating: slope), negativePart(x))
        }
    }

    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .none: return x
        case .relu: return x < 0 ? 0 : x
        case .leakyRelu(let slope): return x < 0 ? x * slope : x
        }
    }

    /// Float64 twin, for reference kernels.
    public func apply(_ x: Double) -> Double {
        switch self {
        case .none: return x
        case .relu: return x < 0 ? 0 : x
        case .leakyRelu(let slope): return x < 0 ? x * Double(slope) : x
        }
    }
}

// Sign-bit selections on the integer view of a float vector. They compile to vpmaxsd/vpminsd
// (or and/andn), whereas `replacing(with:where:)` and `pointwiseMax` compiled to lane-by-lane
// loops inside the kernels. negativePart(x) * slope + positivePart(x) is exact: one term is zero.

/// `max(x, 0)` per lane (-0 and negative values become +0; NaN with the sign bit set becomes +0).
@inline(__always)
func positivePart<V: SIMD>(_ x: V) -> V where V.Scalar == Float {
    let bits = unsafeBitCast(x, to: V.MaskStorage.self)
    let sign = bits &>> V.MaskStorage(repeating: 31)
    return unsafeBitCast(bits & ~sign, to: V.self)
}

/// `min(x, 0)` per lane.
@inline(__always)
func negativePart<V: SIMD>(_ x: V) -> V where V.Scalar == Float {
    let bits = unsafeBitCast(x, to: V.MaskStorage.self)
    let sign = bits &>> V.MaskStorage(repeating: 31)
    return unsafeBitCast(bits & sign, to: V.self)
}
