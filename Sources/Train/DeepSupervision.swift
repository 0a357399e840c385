import Engine

/// How a model's outputs weigh into the training loss.
///
/// A U-Net trained with deep supervision has auxiliary outputs (`GraphOutput.isAuxiliary`, `auxK` for decoder
/// level K at 1/2^K of the input's resolution, resized back) beside `logits`; as nnU-Net does, each level's
/// weight halves with its resolution: `logits` 1, `aux1` 1/2, `aux2` 1/4, ..., normalized to sum to 1. The
/// heads of U-Net++ and UNet 3+ (which inference averages) weigh the same, as do several plain outputs.
public enum DeepSupervision {
    /// One output's share of the loss, `numerator / denominator`, applied in that order (multiply, then
    /// divide), so equal shares of n outputs divide by n exactly as an average does.
    public struct Share: Equatable {
        public var numerator: Int
        public var denominator: Int

        public var value: Double { Double(numerator) / Double(denominator) }
        public func of(_ loss: Double) -> Double { loss * Double(numerator) / Double(denominator) }
        public func of(_ gradient: Tensor) -> Tensor {
            var g = gradient
            let n = Float(numerator), d = Float(denominator)
            for i in 0..<g.data.count { g.data[i] = g.data[i] * n / d }
            return g
        }
    }

    public static func shares(_ outputs: [GraphOutput]) -> [Share] {
        let deepest = outputs.compactMap(\.auxiliaryLevel).max() ?? 0
        // Level K weighs 2^(deepest - K) against logits' 2^deepest.
        let raw = outputs.map { output in 1 << (deepest - (output.auxiliaryLevel ?? 0)) }
        let total = raw.reduce(0, +)
        return raw.map { Share(numerator: $0, denominator: total) }
    }

    /// The indices of the outputs inference uses (all but the auxiliary ones).
    public static func inferenceOutputs(_ outputs: [GraphOutput]) -> [Int] {
        outputs.indices.filter { !outputs[$0].isAuxiliary }
    }
}
