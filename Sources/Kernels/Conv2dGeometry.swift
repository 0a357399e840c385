/// Everything that fixes the shape arithmetic of a 2D convolution.
///
/// Weights at the API are PyTorch's OIHW: `[outChannels][inChannels / groups][kernelHeight][kernelWidth]`.
/// Supported groupings are `groups == 1` and depthwise (`groups == inChannels == outChannels`).
public struct Conv2dGeometry: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    public var dilationY: Int
    public var dilationX: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var groups: Int

    public init(batch: Int = 1, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int? = nil, groups: Int = 1) {
        let pad = padding ?? dilation * (kernel - 1) / 2
        self.init(batch: batch, inChannels: inChannels, inHeight: inHeight, inWidth: inWidth,
                  outChannels: outChannels, kernelHeight: kernel, kernelWidth: kernel,
                  strideY: stride, strideX: stride, dilationY: dilation, dilationX: dilation,
                  padTop: pad, padLeft: pad, padBottom: pad, padRight: pad, groups: groups)
    }

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int,
                dilationY: Int, dilationX: Int, padTop: Int, padLeft: Int, padBottom: Int, padRight: Int,
                groups: Int) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideY = strideY
        self.strideX = strideX
        self.dilationY = dilationY
        self.dilationX = dilationX
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.groups = groups
    }

    public var paddedHeight: Int { inHeight + padTop + padBottom }
    public var paddedWidth: Int { inWidth + padLeft + padRight }
    public var outHeight: Int { (paddedHeight - dilationY * (kernelHeight - 1) - 1) / strideY + 1 }
    public var outWidth: Int { (paddedWidth - dilationX * (kernelWidth - 1) - 1) / strideX + 1 }
    public var isDepthwise: Bool { groups > 1 }
    /// A 1x1 kernel at unit stride with no padding: each output pixel reads its own input pixel's channels only,
    /// so any run of pixels, whatever rows or images they come from, is one GEMM.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideY == 1 && strideX == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }
    public var inputShape: ImageShape { ImageShape(batch: batch, channels: inChannels, height: inHeight, width: inWidth) }
    public var outputShape: ImageShape { ImageShape(batch: batch, channels: outChannels, height: outHeight, width: outWidth) }
    /// Floats in the OIHW weight tensor.
    public var weightCount: Int { outChannels * (inChannels / groups) * kernelHeight * kernelWidth }

    /// Multiply-adds of the direct convolution, times two: the FLOP count every algorithm is measured against.
    public var directFLOPs: Double {
        2 * Double(batch) * Double(outHeight * outWidth) * Double(outChannels)
            * Double(inChannels / groups) * Double(kernelHeight * kernelWidth)
    }

    public var description: String {
        var s = "conv \(kernelHeight)x\(kernelWidth) \(inChannels)->\(outChannels) at \(batch)x\(inHeight)x\(inWidth)"
        if strideY != 1 || strideX != 1 { s += " stride \(strideY)x\(strideX)" }
        if dilationY != 1 || dilationX != 1 { s += " dilation \(dilationY)x\(dilationX)" }
        if padTop != padBottom || padLeft != padRight || padTop != padLeft || padTop != dilationY * (kernelHeight - 1) / 2 {
            s += " pad \(padTop),\(padLeft),\(padBottom),\(padRight)"
        }
        if groups > 1 { s += " groups \(groups)" }
        return s
    }

    /// The first problem with these numbers, or nil when a convolution can run on them.
    public func validate() -> ShapeError? {
        let positives: [(String, Int)] = [
            ("batch", batch), ("inChannels", inChannels), ("inHeight", inHeight), ("inWidth", inWidth),
            ("outChannels", outChannels), ("kernelHeight", kernelHeight), ("kernelWidth", kernelWidth),
            ("strideY", strideY), ("strideX", strideX), ("dilationY", dilationY), ("dilationX", dilationX),
            ("groups", groups),
        ]
        for (name, value) in positives where value <= 0 {
            return .nonPositive(name, value)
        }
        for (name, value) in [("padTop", padTop), ("padLeft", padLeft), ("padBottom", padBottom), ("padRight", padRight)]
        where value < 0 {
            return .negativePadding(name, value)
        }
        if groups != 1 && !(groups == inChannels && groups == outChannels) {
            return .unsupportedGroups(groups: groups, inChannels: inChannels, outChannels: outChannels)
        }
        let extentY = dilationY * (kernelHeight - 1) + 1, extentX = dilationX * (kernelWidth - 1) + 1
        if extentY > paddedHeight || extentX > paddedWidth {
            return .kernelLargerThanInput(kernel: "\(extentY)x\(extentX)", paddedInput: "\(paddedHeight)x\(paddedWidth)")
        }
        return nil
    }

    /// Traps with a readable message when `validate()` finds a problem.
    public func precondition() {
        if let error = validate() { fatalError("invalid \(self): \(error)") }
    }
}

/// Why a set of shape parameters cannot be run. Each case names the offending values.
public enum ShapeError: Error, Equatable, CustomStringConvertible {
    case nonPositive(String, Int)
    case negativePadding(String, Int)
    case unsupportedGroups(groups: Int, inChannels: Int, outChannels: Int)
    case kernelLargerThanInput(kernel: String, paddedInput: String)
    case channelMismatch(expected: Int, got: Int)
    case mismatch(String)

    public var description: String {
        switch self {
        case .nonPositive(let name, let value): return "\(name) must be positive, got \(value)"
        case .negativePadding(let name, let value): return "\(name) must not be negative, got \(value)"
        case .unsupportedGroups(let g, let i, let o):
            return "groups \(g) unsupported for \(i)->\(o) channels: use 1, or depthwise (groups == in == out channels)"
        case .kernelLargerThanInput(let k, let p): return "kernel extent \(k) is larger than the padded input \(p)"
        case .channelMismatch(let e, let g): return "expected \(e) channels, got \(g)"
        case .mismatch(let what): return what
        }
    }
}
