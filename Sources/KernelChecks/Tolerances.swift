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
    // Measured worst errors on U-Net-like layers (64 and 128 channels, He-scaled weights;
    // `ConvAccuracyTests` prints them): igemm 2.6e-6, F2 1.3e-6, F4 2.6e-5, F6 5.3e-5.

    /// Direct (implicit GEMM), 1x1 GEMM, depthwise and transposed convolutions: fp32 accumulation
    /// of up to 9 x 512 products, with inputs and weights in [-1, 1). About 4x the measured error.
    public static let direct: Double = 1e-5
    /// Winograd F(2x2,3x3): transform coefficients are 0, +-1, +-1/2, so it is nearly as exact as direct.
    public static let winogradF2: Double = 3e-5
    /// Winograd F(4x4,3x3): B^T entries up to 5 and A^T entries up to 8 amplify the rounding of the
    /// transformed products by about 10x over direct (measured 2.6e-5); the bound leaves 8x margin.
    public static let winogradF4: Double = 2e-4
    /// Winograd F(6x6,3x3): entries up to 21/4 in B^T and 32 in A^T, and points +-1/2, amplify rounding
    /// by about 20x over direct (measured 5.3e-5); the bound leaves about 20x margin for small random shapes.
    public static let winogradF6: Double = 1e-3
    /// Pools, upsampling, elementwise ops and activations: a few float roundings per element.
    public static let elementwise: Double = 1e-6
    /// Weight gradients sum dY x X over every output pixel of the batch (up to a few thousand terms per
    /// element in the checks): fp32 accumulation error grows with the count.
    public static let weightGradient: Double = 3e-5
    /// Finite differences of the Float64 references against their analytic gradients: the forward maps
    /// checked with them are linear (exact up to rounding) or smooth (central differences, h = 1e-4).
    public static let finiteDifference: Double = 1e-6

    /// Transcendental activations (sigmoid, ELU, softmax) computed with Float `exp`.
    public static let transcendental: Double = 1e-5
}
