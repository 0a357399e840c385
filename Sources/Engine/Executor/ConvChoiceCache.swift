import Kernels

/// The algorithm measured fastest for each convolution geometry (batch included), remembered for the
/// life of the process. Keyed by geometry only, not by thread count, so every executor in the process
/// makes the same choice and outputs stay bitwise identical across thread counts.
public final class ConvChoiceCache {
    public static let shared = ConvChoiceCache()
    private var choices: [Conv2dGeometry: ConvAlgorithm] = [:]
    private let lock = ProcessLock()

    public subscript(g: Conv2dGeometry) -> ConvAlgorithm? {
        get { lock.withLock { choices[g] } }
        set { lock.withLock { choices[g] = newValue } }
    }

    /// Forgets every choice (benchmarks use this to measure afresh).
    public func removeAll() { lock.withLock { choices.removeAll() } }
}
