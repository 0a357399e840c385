import Kernels

/// Randomized checks of the convolution kernels against `ConvReference`.
/// Each returns the failures it found (empty when all passed); messages carry the seed and shape.
public enum ConvChecks {
    /// Channel counts the checks draw from: 1, 3, 5, 17, 33 and multiples of 16.
    public static let channelCounts = [1, 3, 5, 16, 17, 32, 33, 48]

    /// A random valid geometry for `algorithm`.
    public static func randomGeometry(_ algorithm: ConvAlgorithm, rng: inout SplitMix64) -> Conv2dGeometry {
        while true {
            let kernel: Int, stride: Int, dilation: Int, depthwise: Bool
            switch algorithm {
            case .winograd, .winogradNarrow:
                kernel = 3; stride = 1; dilation = 1; depthwise = false
            case .gemm1x1:
                kernel = 1; stride = rng.pick([1, 2]); dilation = 1; depthwise = false
            case .depthwise:
                kernel = rng.pick([1, 3, 5, 7]); stride = rng.pick([1, 2]); dilation = rng.pick([1, 2]); depthwise = true
            case .igemm:
                kernel = rng.pick([1, 3, 5, 7]); stride = rng.pick([1, 2]); dilation = rng.pick([1, 2]); depthwise = false
            }
            let cin = algorithm == .winogradNarrow ? rng.int(1...F32ConvWinogradNarrow.maxInChannels) : rng.pick(channelCounts)
            let cout = depthwise ? cin : rng.pick(channelCounts)
            let h = rng.pick([1, 2, 5, 7, 9, 12, 13, 17]), w = rng.pick([1, 3, 6, 8, 11, 16, 19])
            let extent = dilation * (kernel - 1)
            var g = Conv2dGeometry(batch: rng.int(1...2), inChannels: cin, inHeight: h, inWidth: w, outChannels: cout,
                                   kernel: kernel, stride: stride, dilation: dilation, padding: 0, groups: depthwise ? cin : 1)
            if algorithm != .gemm1x1 {
                // Any padding from none to the full extent, independently on each side.
                g.padTop = rng.int(0...extent); g.padBottom = rng.int(0...extent)
                g.padLeft = rng.int(0...extent); g.padRight = rng.int(0...extent)
            }
            if g.validate() == nil { return g }
        }
    }

    public static func tolerance(_ algorithm: ConvAlgorithm) -> Double {
        switch algorithm {
        case .winograd(let v): return v.m == 2 ? Tolerances.winogradF2 : v.m == 4 ? Tolerances.winogradF4 : Tolerances.winogradF6
        case .winogradNarrow: return Tolerances.winogradF4
        default: return Tolerances.direct
        }
    }

    /// Runs `algorithm` on `g` with random data and compares with the reference.
    public static func check(_ g: Conv2dGeometry, _ algorithm: ConvAlgorithm, activation: FusedActivation,
                             rng: inout SplitMix64, label: String) -> String? {
        let input = rng.floats(g.inputShape.elementCount)
        let weights = rng.floats(g.weightCount)
        let bias = rng.floats(g.outChannels)
        var output = poisoned(g.outputShape.elementCount)
        let plan: F32Conv2dPlan
        do {
            plan = try F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: algorithm)
        } catch {
            return "\(label): plan failed: \(error)"
        }
        output.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: input, output: $0.baseAddress!) }
        let ref = ConvReference.conv2d(g, input: input, weights: weights, bias: bias, activation: activation)
        return output.withUnsafeBufferPointer { compare($0, ref, rtol: tolerance(algorithm), label: label) }
    }

    /// `count` random geometries for each algorithm.
    public static func randomized(_ algorithm: ConvAlgorithm, count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        let activations: [FusedActivation] = [.none, .relu, .leakyRelu(slope: 0.1)]
        for i in 0..<count {
            let g = randomGeometry(algorithm, rng: &rng)
            let act = rng.pick(activations)
            if let f = check(g, algorithm, activation: act, rng: &rng,
                             label: "\(algorithm) #\(i) seed \(seed) \(g) \(act)") {
                failures.append(f)
            }
        }
        return failures
    }

    /// Every algorithm on the edge shapes a tile sweep needs: pixel counts of 1, 5, 6, 7, 12, 13
    /// and channel counts around the column block (2W - 1, 2W, 2W + 1).
    public static func tileEdges(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        let nr = CompiledISA.tileColumns
        for (h, w) in [(1, 1), (1, 5), (2, 3), (1, 7), (3, 4), (13, 1)] {
            for cout in [nr - 1, nr, nr + 1] {
                let g = Conv2dGeometry(inChannels: 3, inHeight: h, inWidth: w, outChannels: cout, kernel: 3)
                for algorithm in ConvAlgorithm.candidates(for: g) {
                    if let f = check(g, algorithm, activation: .none, rng: &rng, label: "edge \(algorithm) \(g) seed \(seed)") {
                        failures.append(f)
                    }
                }
            }
        }
        return failures
    }
}

extension ConvChecks {
    /// Every algorithm run one work item per call (the finest split threads can make) gives the same
    /// bits as one call over all items. Shapes include Winograd layers whose weights outweigh the
    /// input, which split their output channels into groups of work items.
    public static func workItemSplits(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        let shapes = [(48, 5, 3, 96), (33, 9, 7, 64), (17, 13, 19, 33), (64, 4, 4, 80), (3, 11, 13, 17)]
        for (cin, h, w, cout) in shapes {
            let g = Conv2dGeometry(inChannels: cin, inHeight: h, inWidth: w, outChannels: cout, kernel: 3, padding: 1)
            let input = rng.floats(g.inputShape.elementCount)
            let weights = rng.floats(g.weightCount)
            let bias = rng.floats(cout)
            for algorithm in ConvAlgorithm.candidates(for: g) {
                guard let plan = try? F32Conv2dPlan(g, weights: weights, bias: bias, activation: .relu, algorithm: algorithm) else {
                    failures.append("split \(algorithm) \(g): plan failed"); continue
                }
                var whole = poisoned(g.outputShape.elementCount)
                whole.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: input, output: $0.baseAddress!) }
                var split = poisoned(g.outputShape.elementCount)
                let prepared = AlignedBuffer(count: max(1, plan.preparedInputFloats))
                let scratch = AlignedBuffer(count: max(1, plan.scratchFloats))
                // Poisoned: a read of prepared input or scratch that no phase wrote shows as NaN in the output.
                for i in 0..<prepared.count { prepared.pointer[i] = .nan }
                for i in 0..<scratch.count { scratch.pointer[i] = .nan }
                input.withUnsafeBufferPointer { image in
                    split.withUnsafeMutableBufferPointer { out in
                        var source = image.baseAddress!
                        if plan.preparedInputFloats > 0 {
                            plan.prepareInput(source, into: prepared.pointer, rows: 0..<plan.preparedRows)
                            source = prepared.constPointer
                        }
                        for item in 0..<plan.workItems {
                            plan.run(input: source, output: out.baseAddress!, items: item..<(item + 1), scratch: scratch.pointer)
                        }
                    }
                }
                var same = true
                for i in 0..<whole.count where whole[i].bitPattern != split[i].bitPattern { same = false }
                if !same { failures.append("split \(algorithm) \(g) seed \(seed): one item per call differs from one call") }
                if let f = whole.withUnsafeBufferPointer({
                    compare($0, ConvReference.conv2d(g, input: input, weights: weights, bias: bias, activation: .relu),
                            rtol: tolerance(algorithm), label: "split \(algorithm) \(g) seed \(seed)")
                }) { failures.append(f) }
                // A batch of 3 (whose Winograd tiles may form one GEMM across the images, `imagesPerRun`)
                // gives each image the bits it gets alone.
                var batched = g
                batched.batch = 3
                let images = input + rng.floats(2 * g.inputShape.elementCount)
                guard let plan3 = try? F32Conv2dPlan(batched, weights: weights, bias: bias, activation: .relu, algorithm: algorithm) else {
                    failures.append("batch \(algorithm) \(batched): plan failed"); continue
                }
                var all = poisoned(batched.outputShape.elementCount)
                all.withUnsafeMutableBufferPointer { plan3.runSingleThreaded(input: images, output: $0.baseAddress!) }
                for n in 0..<3 {
                    var one = poisoned(g.outputShape.elementCount)
                    Array(images[(n * g.inputShape.elementCount)..<((n + 1) * g.inputShape.elementCount)]).withUnsafeBufferPointer { x in
                        one.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: x.baseAddress!, output: $0.baseAddress!) }
                    }
                    for i in 0..<one.count where one[i].bitPattern != all[n * one.count + i].bitPattern {
                        failures.append("batch \(algorithm) \(batched) (\(plan3.imagesPerRun) images per run) seed \(seed): image \(n) differs from its own run")
                        break
                    }
                }
            }
        }
        return failures
    }
}

extension ConvChecks {
    /// The worst error of each algorithm, in units of `(|ref| + rms(ref))`, on U-Net-like layers
    /// (64 and 128 channels, He-scaled weights): the measured basis of the tolerances in `Tolerances`.
    public static func measuredErrors(seed: UInt64) -> [(ConvAlgorithm, Double)] {
        var rng = SplitMix64(seed: seed)
        var worst: [ConvAlgorithm: Double] = [:]
        for (cin, size) in [(64, 20), (128, 12)] {
            let g = Conv2dGeometry(inChannels: cin, inHeight: size, inWidth: size + 3, outChannels: cin, kernel: 3)
            let input = rng.floats(g.inputShape.elementCount)
            let scale = Float((2.0 / Double(9 * cin)).squareRoot() * 1.7)
            let weights = rng.floats(g.weightCount, scale: scale)
            let ref = ConvReference.conv2d(g, input: input, weights: weights, bias: nil, activation: .none)
            for algorithm in ConvAlgorithm.candidates(for: g) {
                guard let plan = try? F32Conv2dPlan(g, weights: weights, bias: nil, activation: .none, algorithm: algorithm) else { continue }
                var out = poisoned(g.outputShape.elementCount)
                out.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: input, output: $0.baseAddress!) }
                let e = out.withUnsafeBufferPointer { relativeError($0, ref) }
                worst[algorithm] = max(worst[algorithm] ?? 0, e)
            }
        }
        var result: [(ConvAlgorithm, Double)] = []
        for algorithm in [ConvAlgorithm.igemm, .winograd(.f2), .winograd(.f4), .winograd(.f6)] {
            if let e = worst[algorithm] { result.append((algorithm, e)) }
        }
        return result
    }
}
