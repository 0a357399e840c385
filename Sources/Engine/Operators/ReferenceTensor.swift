import Kernels

/// A Float64 tensor in NCHW (NCDHW for a volume): what every operator family's reference (`OperatorDefinition.reference`)
/// reads and writes. The references are straightforward loops, no packing, no fusion, no arena, run by
/// `EngineChecks.ReferenceExecutor` to check the optimized executors.
public struct ReferenceTensor {
    public var shape: TensorShape
    public var data: [Double]

    public init(_ shape: TensorShape) {
        self.shape = shape
        data = [Double](repeating: 0, count: shape.elementCount)
    }

    public init(_ t: Tensor) {
        shape = t.shape
        data = t.data.map { Double($0) }
    }

    /// Element (n, c, y, x) of an image; for a volume, `y` counts the D*H rows (`TensorShape.rows`), which
    /// is what per-pixel references need.
    @inline(__always) public func index(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        ((n * shape.channels + c) * shape.rows + y) * shape.width + x
    }

    /// Element (n, c, z, y, x) of a volume (z is 0 for an image).
    @inline(__always) public func index(_ n: Int, _ c: Int, _ z: Int, _ y: Int, _ x: Int) -> Int {
        (((n * shape.channels + c) * (shape.depth ?? 1) + z) * shape.height + y) * shape.width + x
    }

    /// Element `pixel` (0..<pixelsPerImage, row-major over [D,] H, W) of channel c of image n.
    @inline(__always) public func index(_ n: Int, _ c: Int, pixel: Int) -> Int {
        (n * shape.channels + c) * shape.pixelsPerImage + pixel
    }
}

/// What a reference may look at besides its operands.
public struct ReferenceContext {
    public let parameters: [Parameter]
    public let output: TensorShape
    /// BatchNorm normalizes with the batch's mean and (biased) variance, as in training.
    public let batchStatistics: Bool

    public init(parameters: [Parameter], output: TensorShape, batchStatistics: Bool) {
        self.parameters = parameters
        self.output = output
        self.batchStatistics = batchStatistics
    }

    /// Parameter `index` in Float64.
    public func values(_ index: Int) -> [Double] { parameters[index].floats.map { Double($0) } }
    /// A zero output tensor.
    public func zeros() -> ReferenceTensor { ReferenceTensor(output) }
}
