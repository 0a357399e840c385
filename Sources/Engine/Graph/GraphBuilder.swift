import Kernels

/// A value under construction: the node that produces it, its channel count and its number of spatial
/// axes (2 for images, 3 for volumes), which sets the rank of the windows built on it.
public struct Value {
    public let node: Int
    public let channels: Int
    public var spatialRank: Int = 2
}

/// Builds graphs in Swift. Parameters are created with PyTorch's default initialization (Kaiming
/// uniform for weights, `U(-1/sqrt(fanIn), 1/sqrt(fanIn))` for biases; BatchNorm gamma 1, beta 0,
/// mean 0, variance 1) from a seeded generator, so a seed gives the same model everywhere.
///
///     let b = GraphBuilder(seed: 1)
///     let x = b.input("image", channels: 1)
///     let y = b.relu(b.batchNorm(b.conv(x, 32, kernel: 3, bias: false, name: "enc1.conv1"), name: "enc1.bn1"))
///     b.output("logits", b.conv(y, 1, kernel: 1, name: "head"))
///     let graph = b.graph
public final class GraphBuilder {
    public private(set) var graph = Graph()
    private var random: SeededGenerator

    public init(seed: UInt64 = 0) {
        random = SeededGenerator(seed: seed)
    }

    private func add(_ name: String, _ op: Op, _ inputs: [Value], channels: Int, spatialRank: Int? = nil) -> Value {
        graph.nodes.append(Node(name: name, op: op, inputs: inputs.map { $0.node }))
        return Value(node: graph.nodes.count - 1, channels: channels, spatialRank: spatialRank ?? inputs.first?.spatialRank ?? 2)
    }

    private func parameter(_ name: String, _ shape: [Int], _ values: [Float]) -> Int {
        graph.parameters.append(Parameter(name: name, shape: shape, values: values))
        return graph.parameters.count - 1
    }

    private func uniform(_ count: Int, bound: Float) -> [Float] {
        var v = [Float](repeating: 0, count: count)
        for i in 0..<count { v[i] = random.uniform() * bound }
        return v
    }

    /// An image input, or a volume input with `spatialRank` 3.
    public func input(_ name: String, channels: Int, spatialRank: Int = 2) -> Value {
        add(name, .input(InputNode(channels: channels, spatialRank: spatialRank)), [], channels: channels, spatialRank: spatialRank)
    }

    public func output(_ name: String, _ value: Value) {
        graph.outputs.append(GraphOutput(name: name, node: value.node))
    }

    /// Convolution with "same" padding by default (`dilation * (kernel - 1) / 2`), the same on every axis.
    public func conv(_ x: Value, _ outChannels: Int, kernel: Int, stride: Int = 1, dilation: Int = 1,
                     padding: Int? = nil, groups: Int = 1, bias: Bool = true, name: String) -> Value {
        let r = x.spatialRank
        return conv(x, outChannels, kernel: Array(repeating: kernel, count: r), stride: Array(repeating: stride, count: r),
                    dilation: Array(repeating: dilation, count: r), padding: padding.map { Array(repeating: $0, count: r) },
                    groups: groups, bias: bias, name: name)
    }

    /// Convolution with a kernel, stride, dilation and symmetric padding per spatial axis ([D,] H, W): an
    /// anisotropic 1x3x3 is `kernel: [1, 3, 3]`. Padding defaults to "same" on each axis.
    public func conv(_ x: Value, _ outChannels: Int, kernel: [Int], stride: [Int]? = nil, dilation: [Int]? = nil,
                     padding: [Int]? = nil, groups: Int = 1, bias: Bool = true, name: String) -> Value {
        let ones = Array(repeating: 1, count: kernel.count), dilation = dilation ?? ones
        let same = (0..<kernel.count).map { dilation[$0] * (kernel[$0] - 1) / 2 }
        let window = SpatialWindow(kernel: kernel, stride: stride ?? ones, dilation: dilation, padBegin: padding ?? same, padEnd: padding ?? same)
        let fanIn = x.channels / groups * window.taps
        let bound = 1 / Float(fanIn).squareRoot()
        let w = parameter(name + ".weight", [outChannels, x.channels / groups] + kernel, uniform(outChannels * fanIn, bound: bound))
        let b = bias ? parameter(name + ".bias", [outChannels], uniform(outChannels, bound: bound)) : nil
        return add(name, .conv2d(ConvAttributes(outChannels: outChannels, window: window, groups: groups, weight: w, bias: b)), [x], channels: outChannels)
    }

    public func convTranspose(_ x: Value, _ outChannels: Int, kernel: Int, stride: Int, padding: Int = 0,
                              bias: Bool = true, name: String) -> Value {
        let r = x.spatialRank
        return convTranspose(x, outChannels, kernel: Array(repeating: kernel, count: r), stride: Array(repeating: stride, count: r),
                             padding: Array(repeating: padding, count: r), bias: bias, name: name)
    }

    /// Transposed convolution with a kernel, stride, symmetric padding and output padding per spatial axis.
    public func convTranspose(_ x: Value, _ outChannels: Int, kernel: [Int], stride: [Int], padding: [Int]? = nil,
                              outputPadding: [Int]? = nil, bias: Bool = true, name: String) -> Value {
        let zeros = Array(repeating: 0, count: kernel.count)
        let window = SpatialWindow(kernel: kernel, stride: stride, dilation: Array(repeating: 1, count: kernel.count),
                                   padBegin: padding ?? zeros, padEnd: padding ?? zeros)
        // PyTorch computes ConvTranspose's fan-in from weight dim 1 (out channels) times the kernel's taps.
        let taps = window.taps, bound = 1 / Float(outChannels * taps).squareRoot()
        let w = parameter(name + ".weight", [x.channels, outChannels] + kernel, uniform(x.channels * outChannels * taps, bound: bound))
        let b = bias ? parameter(name + ".bias", [outChannels], uniform(outChannels, bound: bound)) : nil
        let a = ConvTransposeAttributes(outChannels: outChannels, window: window, outputPadding: outputPadding ?? zeros, weight: w, bias: b)
        return add(name, .convTranspose2d(a), [x], channels: outChannels)
    }

    public func batchNorm(_ x: Value, epsilon: Float = 1e-5, name: String) -> Value {
        let c = x.channels
        let a = BatchNormAttributes(gamma: parameter(name + ".weight", [c], [Float](repeating: 1, count: c)),
                                    beta: parameter(name + ".bias", [c], [Float](repeating: 0, count: c)),
                                    mean: parameter(name + ".running_mean", [c], [Float](repeating: 0, count: c)),
                                    variance: parameter(name + ".running_var", [c], [Float](repeating: 1, count: c)),
                                    epsilon: epsilon)
        return add(name, .batchNorm(a), [x], channels: c)
    }

    public func relu(_ x: Value, name: String? = nil) -> Value {
        add(name ?? graph.nodes[x.node].name + ".relu", .activation(.relu), [x], channels: x.channels)
    }

    public func leakyRelu(_ x: Value, slope: Float = 0.01, name: String? = nil) -> Value {
        add(name ?? graph.nodes[x.node].name + ".leaky_relu", .activation(.leakyRelu(slope: slope)), [x], channels: x.channels)
    }

    public func sigmoid(_ x: Value, name: String? = nil) -> Value {
        add(name ?? graph.nodes[x.node].name + ".sigmoid", .activation(.sigmoid), [x], channels: x.channels)
    }

    public func softmax(_ x: Value, name: String) -> Value {
        add(name, .softmax, [x], channels: x.channels)
    }

    /// Clamps to `[low, high]` (ReLU6 is 0...6).
    public func clip(_ x: Value, low: Float, high: Float, name: String) -> Value {
        add(name, .clip(Clip(low: low, high: high)), [x], channels: x.channels)
    }

    /// PReLU with one slope per channel (PyTorch's initial 0.25), or one shared slope.
    public func prelu(_ x: Value, perChannel: Bool = true, name: String) -> Value {
        let n = perChannel ? x.channels : 1
        let slope = parameter(name + ".weight", [n], [Float](repeating: 0.25, count: n))
        return add(name, .prelu(PReLU(slope: slope)), [x], channels: x.channels)
    }

    /// Constant padding: the begins then the ends of each spatial axis (`[top, left, bottom, right]` for an image).
    public func pad(_ x: Value, _ pads: [Int], value: Float = 0, name: String) -> Value {
        add(name, .pad(ConstantPad(pads: pads, value: value)), [x], channels: x.channels)
    }

    /// GroupNorm (gamma 1, beta 0); `groups == x.channels` is InstanceNorm.
    public func groupNorm(_ x: Value, groups: Int, epsilon: Float = 1e-5, name: String) -> Value {
        let c = x.channels
        let a = GroupNorm(groups: groups, gamma: parameter(name + ".weight", [c], [Float](repeating: 1, count: c)),
                          beta: parameter(name + ".bias", [c], [Float](repeating: 0, count: c)), epsilon: epsilon)
        return add(name, .groupNorm(a), [x], channels: c)
    }

    /// InstanceNorm with affine parameters: GroupNorm with one group per channel.
    public func instanceNorm(_ x: Value, epsilon: Float = 1e-5, name: String) -> Value {
        groupNorm(x, groups: x.channels, epsilon: epsilon, name: name)
    }

    public func maxPool(_ x: Value, kernel: Int = 2, stride: Int = 2, padding: Int = 0, name: String) -> Value {
        add(name, .maxPool2d(PoolAttributes(kernel: kernel, stride: stride, padding: padding, rank: x.spatialRank)), [x], channels: x.channels)
    }

    public func averagePool(_ x: Value, kernel: Int = 2, stride: Int = 2, padding: Int = 0, name: String) -> Value {
        add(name, .averagePool2d(PoolAttributes(kernel: kernel, stride: stride, padding: padding, rank: x.spatialRank)), [x], channels: x.channels)
    }

    /// Max pooling with a window per spatial axis (`kernel: [1, 2, 2]` pools H and W of a volume); the
    /// stride defaults to the kernel.
    public func maxPool(_ x: Value, kernel: [Int], stride: [Int]? = nil, name: String) -> Value {
        add(name, .maxPool2d(PoolAttributes(window: Self.poolWindow(kernel, stride))), [x], channels: x.channels)
    }

    /// Average pooling with a window per spatial axis; the stride defaults to the kernel.
    public func averagePool(_ x: Value, kernel: [Int], stride: [Int]? = nil, name: String) -> Value {
        add(name, .averagePool2d(PoolAttributes(window: Self.poolWindow(kernel, stride))), [x], channels: x.channels)
    }

    private static func poolWindow(_ kernel: [Int], _ stride: [Int]?) -> SpatialWindow {
        let ones = Array(repeating: 1, count: kernel.count), zeros = Array(repeating: 0, count: kernel.count)
        return SpatialWindow(kernel: kernel, stride: stride ?? kernel, dilation: ones, padBegin: zeros, padEnd: zeros)
    }

    public func adaptiveAveragePool(_ x: Value, bins: Int, name: String) -> Value {
        add(name, .adaptiveAveragePool2d(bins: bins), [x], channels: x.channels)
    }

    public func upsample(_ x: Value, scale: Int, mode: UpsampleMode = .bilinear(alignCorners: false), name: String) -> Value {
        add(name, .upsample(UpsampleAttributes(mode: mode, scale: scale)), [x], channels: x.channels)
    }

    /// Resamples by a factor per spatial axis ([D,] H, W): `floor(in * factor)` pixels, any factor (0.5, 1.5, 3).
    public func resize(_ x: Value, factors: [Float], mode: UpsampleMode = .bilinear(alignCorners: false), name: String) -> Value {
        add(name, .upsample(UpsampleAttributes(mode: mode, factors: factors)), [x], channels: x.channels)
    }

    /// Resamples `x` to the spatial size of `like`.
    public func resize(_ x: Value, like: Value, mode: UpsampleMode = .bilinear(alignCorners: false), name: String) -> Value {
        add(name, .upsample(UpsampleAttributes(mode: mode, scale: 0)), [x, like], channels: x.channels)
    }

    public func concat(_ values: [Value], name: String) -> Value {
        add(name, .concat, values, channels: values.reduce(0) { $0 + $1.channels })
    }

    public func add(_ a: Value, _ b: Value, name: String) -> Value {
        add(name, .add(.none), [a, b], channels: a.channels)
    }

    public func mul(_ x: Value, _ gate: Value, name: String) -> Value {
        add(name, .mul, [x, gate], channels: x.channels)
    }

    public func globalMaxPool(_ x: Value, name: String) -> Value {
        add(name, .globalMaxPool(GlobalMaxPool()), [x], channels: x.channels)
    }

    /// `logits` with the classes `presence` (N x K x 1 x 1 logits) says are absent closed (`PresenceGate`).
    public func presenceGate(_ logits: Value, presence: Value, firstGated: Int, name: String) -> Value {
        add(name, .presenceGate(PresenceGate(firstGated: firstGated)), [logits, presence], channels: logits.channels)
    }
}

/// SplitMix64: a small seeded generator for reproducible initialization.
public struct SeededGenerator {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (2 / Float(1 << 24)) - 1
    }
}
