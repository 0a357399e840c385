import Kernels

/// The window of a convolution, transposed convolution or pooling along each spatial axis, in the
/// tensor's axis order ([D,] H, W): kernel, stride, dilation and the padding before and after. A rank-3
/// window is a 3D op, and anisotropic windows (1x3x3, 2x2x1) are plain values. A rank-1 window runs
/// along W of a tensor of height 1 (a 1D signal).
///
/// In a model file a window is four integer lists (`kernel`, `stride`, `dilation`, `pads` with the
/// begins then the ends, ONNX's order), so a 2D window is written exactly as format 2.0 wrote it.
public struct SpatialWindow: Hashable {
    public var kernel: [Int]
    public var stride: [Int]
    public var dilation: [Int]
    public var padBegin: [Int]
    public var padEnd: [Int]

    public init(kernel: [Int], stride: [Int], dilation: [Int], padBegin: [Int], padEnd: [Int]) {
        self.kernel = kernel
        self.stride = stride
        self.dilation = dilation
        self.padBegin = padBegin
        self.padEnd = padEnd
    }

    /// The same kernel, stride, dilation and padding on each of `rank` axes.
    public init(rank: Int, kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int = 0) {
        self.init(kernel: Array(repeating: kernel, count: rank), stride: Array(repeating: stride, count: rank),
                  dilation: Array(repeating: dilation, count: rank), padBegin: Array(repeating: padding, count: rank),
                  padEnd: Array(repeating: padding, count: rank))
    }

    public var rank: Int { kernel.count }
    public var taps: Int { kernel.reduce(1, *) }

    /// Per-axis values of a rank-3 view: the axes a lower-rank window lacks are identities (kernel 1,
    /// stride 1, no padding), so one loop nest serves 1D, 2D and 3D.
    public struct Axis {
        public var kernel = 1, stride = 1, dilation = 1, padBegin = 0, padEnd = 0
    }

    /// Axis `axis` (0 = D, 1 = H, 2 = W) of the rank-3 view.
    public func axis3(_ axis: Int) -> Axis {
        let i = axis - (3 - rank)
        guard i >= 0 else { return Axis() }
        return Axis(kernel: kernel[i], stride: stride[i], dilation: dilation[i], padBegin: padBegin[i], padEnd: padEnd[i])
    }

    /// Why the window cannot be used, or nil: every list has one entry per axis, kernel, stride and
    /// dilation are positive, padding is not negative.
    public func problem() -> String? {
        if !(1...3).contains(rank) { return "a window has 1 to 3 spatial axes, got \(rank)" }
        for (name, list) in [("stride", stride), ("dilation", dilation), ("pad begins", padBegin), ("pad ends", padEnd)] where list.count != rank {
            return "\(name) has \(list.count) entries for a \(rank)-axis kernel"
        }
        for (name, list) in [("kernel", kernel), ("stride", stride), ("dilation", dilation)] where list.contains(where: { $0 <= 0 }) {
            return "\(name) must be positive, got \(list)"
        }
        if (padBegin + padEnd).contains(where: { $0 < 0 }) { return "padding must not be negative, got \(padBegin + padEnd)" }
        return nil
    }

    /// The input extents along the window's axes, or a message when the window does not fit the tensor's rank.
    public func extents(of shape: TensorShape) -> [Int]? {
        if rank == shape.spatialRank { return shape.spatial }
        if rank == 1 && shape.depth == nil && shape.height == 1 { return [shape.width] }
        return nil
    }

    /// The tensor `shape` with its window axes set to `extents` (the inverse of `extents(of:)`).
    public func shape(_ shape: TensorShape, withExtents extents: [Int]) -> TensorShape {
        var out = shape
        if rank == 1 { out.width = extents[0] } else { out.spatial = extents }
        return out
    }

    /// The output shape of a convolution or pooling window over `input` (floor mode, PyTorch's default).
    public func outputShape(_ input: TensorShape, _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if let problem = problem() { throw context.fail(problem) }
        guard let extents = extents(of: input) else {
            throw context.fail("a \(rank)-axis window does not fit a \(input.spatialRank)-axis tensor \(input)")
        }
        var out: [Int] = []
        for a in 0..<rank {
            let span = dilation[a] * (kernel[a] - 1) + 1, padded = extents[a] + padBegin[a] + padEnd[a]
            if padded < span { throw context.fail("window \(kernel) (dilation \(dilation)) is larger than the padded input \(input)") }
            out.append((padded - span) / stride[a] + 1)
        }
        return shape(input, withExtents: out)
    }

    /// The output shape of the transposed window over `input`, with `outputPadding` added after each axis.
    public func transposedOutputShape(_ input: TensorShape, outputPadding: [Int], _ context: ShapeContext) throws(GraphError) -> TensorShape {
        if let problem = problem() { throw context.fail(problem) }
        guard let extents = extents(of: input) else {
            throw context.fail("a \(rank)-axis window does not fit a \(input.spatialRank)-axis tensor \(input)")
        }
        if outputPadding.count != rank || outputPadding.contains(where: { $0 < 0 }) {
            throw context.fail("output padding must be \(rank) values >= 0, got \(outputPadding)")
        }
        var out: [Int] = []
        for a in 0..<rank {
            if outputPadding[a] >= max(stride[a], dilation[a]) {
                throw context.fail("output padding \(outputPadding) must be smaller than the stride or the dilation")
            }
            let extent = (extents[a] - 1) * stride[a] - padBegin[a] - padEnd[a] + dilation[a] * (kernel[a] - 1) + 1 + outputPadding[a]
            if extent < 1 { throw context.fail("transposed window \(kernel) over \(input) leaves no pixels") }
            out.append(extent)
        }
        return shape(input, withExtents: out)
    }

    /// Writes `kernel`, `stride`, `dilation` and `pads` (begins then ends): a convolution's window.
    public func encode(into a: inout NodeAttributeWriter) {
        a.ints("kernel", kernel)
        a.ints("stride", stride)
        a.ints("dilation", dilation)
        a.ints("pads", padBegin + padEnd)
    }

    /// The window stored by `encode`; its rank is the length of `kernel` (1 to 3).
    public static func decode(_ a: NodeAttributeReader) throws(ModelFileError) -> SpatialWindow {
        let kernel = try a.axes("kernel")
        let pads = try a.ints("pads", count: 2 * kernel.count)
        return SpatialWindow(kernel: kernel, stride: try a.ints("stride", count: kernel.count), dilation: try a.ints("dilation", count: kernel.count),
                             padBegin: Array(pads[..<kernel.count]), padEnd: Array(pads[kernel.count...]))
    }

    /// Writes `kernel`, `stride` and a symmetric `padding` per axis: pooling and transposed convolution
    /// (dilation 1), as format 2.0 stored them.
    public func encodeSymmetric(into a: inout NodeAttributeWriter) {
        a.ints("kernel", kernel)
        a.ints("stride", stride)
        a.ints("padding", padBegin)
    }

    /// The window stored by `encodeSymmetric`.
    public static func decodeSymmetric(_ a: NodeAttributeReader) throws(ModelFileError) -> SpatialWindow {
        let kernel = try a.axes("kernel"), padding = try a.ints("padding", count: kernel.count)
        return SpatialWindow(kernel: kernel, stride: try a.ints("stride", count: kernel.count),
                             dilation: Array(repeating: 1, count: kernel.count), padBegin: padding, padEnd: padding)
    }

    /// True when the window has the same padding before and after each axis and no dilation (pooling's and
    /// the transposed convolution's windows, which store one padding per axis).
    public var isSymmetric: Bool { padBegin == padEnd && dilation.allSatisfy { $0 == 1 } }
}
