/// Every tolerance the kernel checks use, in one place.
///
/// A result passes when, element by element,
///
///     |got - ref| <= rtol * (|ref| + rms(ref))
///
/// where `ref` is the Float64 reference and `rms(ref)` the root mean square of the whole reference
/// tensor. The `rms` term keeps the test meaningful for outputs that are near zero by cancellation:
/// a float32 sum of K products has an error proportional to the size of its terms, not of its result.
public enum Tolerances {
    /// Direct (implicit GEMM), 1x1 GEMM, depthwise and transposed convolutions: fp32 accumulation
    /// of up to 9 x 512 products, with inputs and weights in [-1, 1).
    public static let direct: Double = 1e-5
    /// Winograd F(2x2,3x3): transform coefficients are 0, +-1, +-1/2, so it is nearly as exact as direct.
    public static let winogradF2: Double = 3e-5
    /// Winograd F(4x4,3x3): coefficients up to 8 (A^T) and 1/24 (G) amplify rounding by about 10-20x.
    public static let winogradF4: Double = 2e-4
    /// Winograd F(6x6,3x3): points +-1/2 and coefficients up to 32 amplify rounding by about 10^3.
    public static let winogradF6: Double = 3e-3
    /// Pools, upsampling, elementwise ops and activations: a few float roundings per element.
    public static let elementwise: Double = 1e-6
    /// Transcendental activations (sigmoid, ELU, softmax) computed with Float `exp`.
    public static let transcendental: Double = 1e-5
}
