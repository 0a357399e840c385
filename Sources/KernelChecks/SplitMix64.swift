/// A small seeded generator (SplitMix64) so every random check can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// One of `values`.
    public mutating func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &self)] }

    /// `count` floats uniform in [-1, 1), never all zero.
    public mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = Float.random(in: -1..<1, using: &self) * scale }
        if count > 0 { out[0] = out[0] == 0 ? 0.5 * scale : out[0] }
        return out
    }
}
