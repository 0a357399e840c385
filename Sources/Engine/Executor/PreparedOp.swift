import Kernels

/// A node made ready to run at one input shape by its operator family (`OperatorDefinition.planFloat`):
/// operators planned, weights packed, sizes known, and the closure that runs it over a whole batch.
public struct PreparedOp {
    /// Scratch floats the run needs (the plan keeps one workspace, as large as the largest need).
    public var workspaceFloats = 0
    public var packedWeightBytes = 0
    /// Multiply-adds x 2 of the whole batch (convolutions; 0 for ops that only move data).
    public var flops = 0.0
    /// The convolution's geometry and algorithm (listed by `segrun info` and the benchmarks).
    public var convolution: (geometry: Conv2dGeometry, algorithm: ConvAlgorithm)? = nil
    public let run: (FloatOperands) -> Void

    public init(workspaceFloats: Int = 0, packedWeightBytes: Int = 0, flops: Double = 0,
                convolution: (geometry: Conv2dGeometry, algorithm: ConvAlgorithm)? = nil, run: @escaping (FloatOperands) -> Void) {
        self.workspaceFloats = workspaceFloats
        self.packedWeightBytes = packedWeightBytes
        self.flops = flops
        self.convolution = convolution
        self.run = run
    }
}

/// One run of a prepared node: NHWC operands and output, the shared workspace and the thread count.
public struct FloatOperands {
    public let inputs: [UnsafeMutablePointer<Float>]
    public let inputShapes: [TensorShape]
    public let output: UnsafeMutablePointer<Float>
    public let shape: TensorShape
    public let workspace: UnsafeMutablePointer<Float>
    public let threads: Int

    /// The first operand and its shape.
    public var x: UnsafeMutablePointer<Float> { inputs[0] }
    public var xs: TensorShape { inputShapes[0] }
    /// Pixels of the output over the whole batch.
    public var pixels: Int { shape.batch * shape.pixelsPerImage }
}

/// What an operator family may look at when it plans a node for fp32.
public struct FloatPlanContext {
    public let node: Node
    public let parameters: [Parameter]
    /// Shapes of the node's operands and output.
    public let operands: [TensorShape]
    public let output: TensorShape
    public let threads: Int
    /// The algorithm to use for a convolution geometry (the executor's policy).
    public let algorithm: (Conv2dGeometry) -> ConvAlgorithm

    public var x: TensorShape { operands.isEmpty ? output : operands[0] }
    public func floats(_ parameter: Int) -> [Float] { parameters[parameter].floats }
    public func fail(_ message: String) -> GraphError { .shape(node: node.name, message) }

    /// Throws unless the node's operands and output are images: what a spatial op whose kernels are 2D
    /// asks before planning (per-pixel ops run on volumes as they are).
    public func requireImages(_ kind: String) throws(GraphError) {
        if output.depth != nil || operands.contains(where: { $0.depth != nil }) {
            throw fail("\(kind) on volumes runs in the Float64 reference executor only; this build's fp32 kernels are 2D")
        }
    }
}

/// How the executor picks each convolution's algorithm.
public enum AlgorithmPolicy: Equatable {
    /// Measure in context: run the whole network once per algorithm family, time every layer where
    /// it runs, and give each layer its fastest algorithm. In a network, weights and activations are
    /// cold when a layer starts, which a layer timed alone in a loop does not show (Winograd's 4x larger
    /// transformed weights cost more there). Choices are remembered per geometry for the process.
    case measured
    /// Use this algorithm wherever it applies; elsewhere the first valid one (igemm, or depthwise).
    case forced(ConvAlgorithm)
}

extension ConvAlgorithm {
    /// `self` when it can compute `g`, else the first valid algorithm.
    public func orFallback(for g: Conv2dGeometry) -> ConvAlgorithm {
        let candidates = ConvAlgorithm.candidates(for: g)
        return candidates.contains(self) ? self : candidates[0]
    }
}

/// Splits the (image, output row) pairs of a batch over threads: `body(image input, image output, rows)`.
public func eachImageRows<T>(_ xs: TensorShape, _ shape: TensorShape, _ x: UnsafeMutablePointer<T>, _ output: UnsafeMutablePointer<T>,
                             _ threads: Int, _ body: (UnsafePointer<T>, UnsafeMutablePointer<T>, Range<Int>) -> Void) {
    let rows = shape.height
    ParallelFor.run(count: shape.batch * rows, threads: threads) { items, _ in
        var i = items.lowerBound
        while i < items.upperBound {
            let n = i / rows, first = i % rows
            let last = min(rows, first + (items.upperBound - i))
            body(UnsafePointer(x + n * xs.elementsPerImage), output + n * shape.elementsPerImage, first..<last)
            i += last - first
        }
    }
}
