/// Compares an optimized kernel's Float output with its Float64 reference.
/// Returns nil when it passes, or one line naming the worst element.
public func compare(_ got: UnsafeBufferPointer<Float>, _ ref: [Double], rtol: Double, label: String) -> String? {
    if got.count != ref.count { return "\(label): \(got.count) outputs, reference has \(ref.count)" }
    if ref.isEmpty { return "\(label): empty output" }
    var sumSquares = 0.0
    for r in ref { sumSquares += r * r }
    let rms = (sumSquares / Double(ref.count)).squareRoot()
    var worst = -1, worstRatio = 0.0
    for i in 0..<ref.count {
        let g = Double(got[i])
        if g.isNaN || g.isInfinite { return "\(label): element \(i) is \(g) (reference \(ref[i])): unwritten or overflowed" }
        let bound = rtol * (abs(ref[i]) + rms)
        let err = abs(g - ref[i])
        let ratio = bound > 0 ? err / bound : (err > 0 ? .infinity : 0)
        if ratio > worstRatio { worstRatio = ratio; worst = i }
    }
    if worstRatio > 1 {
        return "\(label): element \(worst) is \(got[worst]), reference \(ref[worst]) (error \(abs(Double(got[worst]) - ref[worst])), bound \(rtol) x (|ref| + rms \(rms)))"
    }
    return nil
}

/// A buffer of `count` NaNs: outputs are poisoned so that an element a kernel forgets to write fails.
public func poisoned(_ count: Int) -> [Float] { [Float](repeating: .nan, count: count) }

/// The worst error of `got` against `ref` in units of `(|ref| + rms)`: used to report measured accuracy.
public func relativeError(_ got: UnsafeBufferPointer<Float>, _ ref: [Double]) -> Double {
    var sumSquares = 0.0
    for r in ref { sumSquares += r * r }
    let rms = (sumSquares / Double(max(ref.count, 1))).squareRoot()
    var worst = 0.0
    for i in 0..<min(got.count, ref.count) {
        worst = max(worst, abs(Double(got[i]) - ref[i]) / (abs(ref[i]) + rms))
    }
    return worst
}
