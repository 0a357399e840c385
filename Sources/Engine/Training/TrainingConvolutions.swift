
import Kernels

/// The algorithms of training's forward and input-gradient convolutions: a fixed rule of each layer's shape,
/// never a timing, so a run gives the same bits every time and on resume.
public enum TrainingConvolutions: Equatable, Sendable, CustomStringConvertible {
    /// The default: Winograd F(4x4,3x3) on layers with at least 128 input and output channels, F(2x2,3x3) on
    /// the others, igemm under 16 channels. F4 is the fastest, but its rounding on the wide, shallow layers is
    /// what moved single gradient entries by about 1e-3 (`ParityTests`); kept to the deep layers, every entry of
    /// one unet-s step matches PyTorch's within 1e-4 (3e-5 measured), at most of F4's speed.
    case auto
    /// One algorithm for every layer it can compute (igemm for the others, and under 16 channels for Winograd,
    /// where igemm is faster: 3x3 3->32 at 256x256 takes 2.2 ms by igemm, 3.3 ms by F4, 9.3 ms by F2).
    case uniform(ConvAlgorithm)

    /// The names `segrun train --conv` and `segrun bench --conv` take.
    public static let names = ["auto", "winograd-f4", "winograd-f2", "igemm"]

    public init?(name: String) {
        if name == "auto" {
            self = .auto
        } else if Self.names.contains(name), let algorithm = ConvAlgorithm(name: name) {
            self = .uniform(algorithm)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto (winograd-f4 from 128 channels, winograd-f2 below)"
        case .uniform(let algorithm): return "\(algorithm)"
        }
    }

    /// The algorithm for convolution (or transposed convolution) `g`.
    public func algorithm(for g: Conv2dGeometry) -> ConvAlgorithm {
        switch self {
        case .auto:
            if g.inChannels < 16 || g.outChannels < 16 { return .igemm }
            return ConvAlgorithm.winograd(min(g.inChannels, g.outChannels) >= 128 ? .f4 : .f2).orFallback(for: g)
        case .uniform(let algorithm):
            if case .winograd = algorithm, g.inChannels < 16 || g.outChannels < 16 { return .igemm }
            return algorithm.orFallback(for: g)
        }
    }
}
