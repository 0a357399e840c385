/// Shape arithmetic of a transposed 2D convolution (PyTorch's `ConvTranspose2d`, groups 1).
///
/// Weights are `[inChannels][outChannels][kernelHeight][kernelWidth]` (IOHW) as in PyTorch.
/// `outHeight = (inHeight - 1) * strideY - padTop - padBottom + dilationY * (kernelHeight - 1) + 1 + outputPaddingY`.
public struct ConvTranspose2dGeometry: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    public var dilationY: Int = 1
    public var dilationX: Int = 1
    public var padTop: Int = 0
    public var padLeft: Int = 0
    public var padBottom: Int = 0
    public var padRight: Int = 0
    public var outputPaddingY: Int = 0
    public var outputPaddingX: Int = 0

    public init(batch: Int = 1, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernel: Int, stride: Int, padding: Int = 0, dilation: Int = 1, outputPadding: Int = 0) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        kernelHeight = kernel
        kernelWidth = kernel
        strideY = stride
        strideX = stride
        dilationY = dilation
        dilationX = dilation
        padTop = padding
        padLeft = padding
        padBottom = padding
        padRight = padding
        outputPaddingY = outputPadding
        outputPaddingX = outputPadding
    }

    public var outHeight: Int {
        (inHeight - 1) * strideY - padTop - padBottom + dilationY * (kernelHeight - 1) + 1 + outputPaddingY
    }
    public var outWidth: Int {
        (inWidth - 1) * strideX - padLeft - padRight + dilationX * (kernelWidth - 1) + 1 + outputPaddingX
    }
    public var inputShape: ImageShape { ImageShape(batch: batch, channels: inChannels, height: inHeight, width: inWidth) }
    public var outputShape: ImageShape { ImageShape(batch: batch, channels: outChannels, height: outHeight, width: outWidth) }
    public var weightCount: Int { inChannels * outChannels * kernelHeight * kernelWidth }
    /// Whether this is the U-Net up-step: 2x2 kernel, stride 2, no padding.
    public var isUpStep2x2: Bool {
        kernelHeight == 2 && kernelWidth == 2 && strideY == 2 && strideX == 2 && dilationY == 1 && dilationX == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0 && outputPaddingY == 0 && outputPaddingX == 0
    }
    /// Multiply-adds times two, counted as the scatter form does them.
    public var directFLOPs: Double {
        2 * Double(batch * inHeight * inWidth) * Double(inChannels * outChannels * kernelHeight * kernelWidth)
    }

    public var description: String {
        "convT \(kernelHeight)x\(kernelWidth)/\(strideY) \(inChannels)->\(outChannels) at \(batch)x\(inHeight)x\(inWidth)"
    }

    public func validate() -> ShapeError? {
        for (name, value) in [("batch", batch), ("inChannels", inChannels), ("inHeight", inHeight), ("inWidth", inWidth),
                              ("outChannels", outChannels), ("kernelHeight", kernelHeight), ("kernelWidth", kernelWidth),
                              ("strideY", strideY), ("strideX", strideX), ("dilationY", dilationY), ("dilationX", dilationX)]
        where value <= 0 {
            return .nonPositive(name, value)
        }
        for (name, value) in [("padTop", padTop), ("padLeft", padLeft), ("padBottom", padBottom), ("padRight", padRight),
                              ("outputPaddingY", outputPaddingY), ("outputPaddingX", outputPaddingX)]
        where value < 0 {
            return .negativePadding(name, value)
        }
        if outHeight <= 0 || outWidth <= 0 {
            return .mismatch("transposed convolution output would be \(outHeight)x\(outWidth)")
        }
        return nil
    }

    public func precondition() {
        if let error = validate() { fatalError("invalid \(self): \(error)") }
    }
}

extension ConvTranspose2dGeometry {
    /// The transposed convolution that is the adjoint of convolution `g` (groups 1): it maps `g`'s output
    /// shape back to its input shape, so running it on dY with `g`'s weights gives the input gradient.
    public init(adjointOf g: Conv2dGeometry) {
        self.init(batch: g.batch, inChannels: g.outChannels, inHeight: g.outHeight, inWidth: g.outWidth,
                  outChannels: g.inChannels, kernel: 1, stride: 1)
        kernelHeight = g.kernelHeight
        kernelWidth = g.kernelWidth
        strideY = g.strideY
        strideX = g.strideX
        dilationY = g.dilationY
        dilationX = g.dilationX
        padTop = g.padTop
        padLeft = g.padLeft
        padBottom = g.padBottom
        padRight = g.padRight
        outputPaddingY = g.inHeight - outHeight
        outputPaddingX = g.inWidth - outWidth
    }
}
