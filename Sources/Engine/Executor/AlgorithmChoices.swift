import Kernels

/// The algorithms measured fastest, remembered for the life of the process: the one cache of algorithm
/// choices, one table per precision.
public enum AlgorithmChoices {
    /// fp32: the algorithm of each convolution geometry (batch included). Keyed by geometry only, not by
    /// thread count, so every executor in the process makes the same choice and outputs stay bitwise
    /// identical across thread counts.
    public static let fp32 = ChoiceCache<Conv2dGeometry, ConvAlgorithm>()
    /// int8: the fastest of the GEMM and the exact Winograd tiles, per geometry, thread count and whether
    /// F(4x4,3x3) is exact for the layer's weights (all give the same bits).
    static let int8 = ChoiceCache<Int8ChoiceKey, Int8ConvAlgorithm>()
}

/// A process-wide table of measured choices, safe to read and write from any thread.
public final class ChoiceCache<Key: Hashable, Choice> {
    private var choices: [Key: Choice] = [:]
    private let lock = ProcessLock()

    public init() {}

    public subscript(key: Key) -> Choice? {
        get { lock.withLock { choices[key] } }
        set { lock.withLock { choices[key] = newValue } }
    }

    /// Forgets every choice (benchmarks use this to measure afresh).
    public func removeAll() { lock.withLock { choices.removeAll() } }
}

struct Int8ChoiceKey: Hashable {
    var geometry: Conv2dGeometry
    var threads: Int
    /// F(4x4,3x3)'s depth groups for these weights, 0 where it does not run them.
    var f4Groups: Int
}

/// The int8 algorithms of a 3x3 stride-1 convolution.
enum Int8ConvAlgorithm: Hashable {
    case gemm
    case winogradF2
    case winogradF4
    /// F(4x4,3x3) transforming its weights per run from the int8 kernels (layers with few tiles and many weights).
    case winogradF4WeightsPerRun
}
