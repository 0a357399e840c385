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
        case .relu: return x.replacing(with: 0, where: x .< 0)
        case .leakyRelu(let slope): return x.replacing(with: x * slope, where: x .< 0)
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
