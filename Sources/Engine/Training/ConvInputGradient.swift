import Kernels

/// dX of a 2D convolution (OIHW weights, groups 1), planned once and run on batches of dY: for stride 1 the
/// forward convolution of dY with the flipped kernel `W'[i][o][ky][kx] = W[o][i][kh-1-ky][kw-1-kx]` and padding
/// `dilation * (k - 1) - pad` on each side, on the fast forward paths (igemm, Winograd); otherwise the transposed
/// convolution of dY with the same weights.
struct ConvInputGradient {
    let geometry: Conv2dGeometry
    let threads: Int
    private let flipped: Conv2dOperator?
    private let transposed: F32ConvTranspose.Plan?
    /// The flipped convolution's workspace, kept across runs (its contents need not be initialized).
    private let workspace: AlignedBuffer?

    init(_ g: Conv2dGeometry, weights w: [Float], threads: Int, algorithm: (Conv2dGeometry) -> ConvAlgorithm,
         node: Node) throws(GraphError) {
        geometry = g
        self.threads = threads
        guard g.strideY == 1 && g.strideX == 1 else {
            flipped = nil
            workspace = nil
            transposed = try F32ConvTranspose.Plan.make(ConvTranspose2dGeometry(adjointOf: g), weights: w, bias: nil, activation: .none, node: node)
            return
        }
        let kh = g.kernelHeight, kw = g.kernelWidth, cin = g.inChannels, cout = g.outChannels
        var flippedWeights = Autograd.uninitialized(w.count)
        w.withUnsafeBufferPointer { wp in flippedWeights.withUnsafeMutableBufferPointer { fp in
            let src = wp.baseAddress!, dst = fp.baseAddress!
            ParallelFor.run(count: cin, threads: w.count < 65_536 ? 1 : threads) { inputs, _ in
                for i in inputs { for o in 0..<cout { for ky in 0..<kh { for kx in 0..<kw {
                    dst[((i * cout + o) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] = src[((o * cin + i) * kh + ky) * kw + kx]
                } } } }
            }
        } }
        let back = Conv2dGeometry(batch: g.batch, inChannels: cout, inHeight: g.outHeight, inWidth: g.outWidth, outChannels: cin,
                                  kernelHeight: kh, kernelWidth: kw, strideY: 1, strideX: 1, dilationY: g.dilationY, dilationX: g.dilationX,
                                  padTop: g.dilationY * (kh - 1) - g.padTop, padLeft: g.dilationX * (kw - 1) - g.padLeft,
                                  padBottom: g.dilationY * (kh - 1) - g.padBottom, padRight: g.dilationX * (kw - 1) - g.padRight, groups: 1)
        if back.outHeight != g.inHeight || back.outWidth != g.inWidth || back.padTop < 0 || back.padLeft < 0 || back.padBottom < 0 || back.padRight < 0 {
            throw .shape(node: node.name, "no flipped-kernel input gradient for \(g)")
        }
        let op = try Conv2dOperator.make(back, weights: flippedWeights, bias: nil, activation: .none, algorithm: algorithm(back),
                                         threads: threads, node: node)
        flipped = op
        workspace = AlignedBuffer(count: op.workspaceFloats, zeroed: false)
        transposed = nil
    }

    /// Writes dX of the geometry's whole batch (every element) from its dY, both NHWC.
    func run(outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
        if let flipped {
            flipped.run(input: dy, output: dx, workspace: workspace!.pointer)
            return
        }
        let g = geometry
        dx.update(repeating: 0, count: g.inputShape.elementCount)  // the transposed convolution adds into it
        transposed!.run(input: dy, output: dx, batch: g.batch, inStride: g.outputShape.elementsPerImage,
                        outStride: g.inputShape.elementsPerImage, threads: threads)
    }
}
