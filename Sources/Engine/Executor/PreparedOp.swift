import Kernels

/// A node made ready to run at one input shape: operators planned, weights packed, sizes known.
enum PreparedOp {
    case input(index: Int)
    case conv(Conv2dOperator)
    case convTranspose(F32ConvTranspose.Plan)
    case maxPool(Pool2dGeometry)
    case averagePool(Pool2dGeometry)
    case adaptiveAveragePool(bins: Int)
    case upsample(UpsampleMode)
    case concat
    case add(FusedActivation)
    case mul
    /// An inference BatchNorm that could not be folded, as a per-channel affine map.
    case affine(scale: [Float], shift: [Float], FusedActivation)
    case activation(ActivationKind)
    case softmax
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

extension PreparedOp {
    /// Runs one node over a whole batch. `operands` are NHWC tensors of `operandShapes`.
    func run(_ operands: [UnsafeMutablePointer<Float>], _ operandShapes: [TensorShape], output: UnsafeMutablePointer<Float>,
             shape: TensorShape, workspace: UnsafeMutablePointer<Float>, threads: Int) {
        let x = operands.isEmpty ? output : operands[0]
        let xs = operandShapes.isEmpty ? shape : operandShapes[0]
        let count = shape.elementCount
        let pixels = shape.batch * shape.height * shape.width
        switch self {
        case .input:
            return
        case .conv(let op):
            op.run(input: x, output: output, workspace: workspace)
        case .convTranspose(let plan):
            for n in 0..<shape.batch {
                let src = UnsafePointer(x + n * xs.elementsPerImage), dst = output + n * shape.elementsPerImage
                ParallelFor.run(count: plan.workItems, threads: threads) { items, _ in
                    plan.run(input: src, output: dst, items: items)
                }
            }
        case .maxPool(let g):
            eachImageRows(xs, shape, x, output, threads) { src, dst, rows in
                F32Pooling.maxPool(g, input: src, output: dst, indices: nil, rows: rows)
            }
        case .averagePool(let g):
            eachImageRows(xs, shape, x, output, threads) { src, dst, rows in
                F32Pooling.averagePool(g, input: src, output: dst, rows: rows)
            }
        case .adaptiveAveragePool(let bins):
            var one = xs.image
            one.batch = 1
            for n in 0..<shape.batch {
                F32Pooling.adaptiveAveragePool(one, outHeight: bins, outWidth: bins,
                                               input: x + n * xs.elementsPerImage, output: output + n * shape.elementsPerImage)
            }
        case .upsample(let mode):
            var one = xs.image
            one.batch = 1
            eachImageRows(xs, shape, x, output, threads) { src, dst, rows in
                switch mode {
                case .nearest:
                    F32Upsample.nearest(one, outHeight: shape.height, outWidth: shape.width, input: src, output: dst, rows: rows)
                case .bilinear(let alignCorners):
                    F32Upsample.bilinear(one, outHeight: shape.height, outWidth: shape.width, alignCorners: alignCorners,
                                         input: src, output: dst, rows: rows)
                }
            }
        case .concat:
            var parts: [(UnsafePointer<Float>, Int)] = []
            for (i, p) in operands.enumerated() { parts.append((UnsafePointer(p), operandShapes[i].channels)) }
            ParallelFor.run(count: pixels, threads: threads) { range, _ in
                F32Elementwise.concatChannels(parts, output: output, pixels: range)
            }
        case .add(let activation):
            let a = operands[0], b = operands[1]
            ParallelFor.run(count: count, threads: threads) { range, _ in
                F32Elementwise.add(a, b, output: output, range: range, activation: activation)
            }
        case .mul:
            let a = operands[0], b = operands[1], gate = operandShapes[1]
            if gate == shape {
                ParallelFor.run(count: count, threads: threads) { range, _ in
                    F32Elementwise.multiply(a, b, output: output, range: range)
                }
            } else if gate.channels == 1 && shape.channels != 1 {
                ParallelFor.run(count: pixels, threads: threads) { range, _ in
                    F32Elementwise.multiplyBySpatial(a, gate: b, channels: shape.channels, output: output, pixels: range)
                }
            } else {
                let perImage = shape.height * shape.width
                for n in 0..<shape.batch {
                    let src = a + n * shape.elementsPerImage, dst = output + n * shape.elementsPerImage
                    let scale = b + n * shape.channels
                    ParallelFor.run(count: perImage, threads: threads) { range, _ in
                        F32Elementwise.multiplyByChannel(src, scale: scale, channels: shape.channels, output: dst, pixels: range)
                    }
                }
            }
        case .affine(let scale, let shift, let activation):
            scale.withUnsafeBufferPointer { s in
                shift.withUnsafeBufferPointer { t in
                    let sp = s.baseAddress!, tp = t.baseAddress!
                    ParallelFor.run(count: pixels, threads: threads) { range, _ in
                        F32Elementwise.channelAffine(x, scale: sp, shift: tp, channels: shape.channels, output: output,
                                                     pixels: range, activation: activation)
                    }
                }
            }
        case .activation(let kind):
            ParallelFor.run(count: count, threads: threads) { range, _ in
                switch kind {
                case .relu: F32Activations.relu(x, output: output, range: range)
                case .leakyRelu(let slope): F32Activations.leakyRelu(x, slope: slope, output: output, range: range)
                case .sigmoid: F32Activations.sigmoid(x, output: output, range: range)
                }
            }
        case .softmax:
            ParallelFor.run(count: pixels, threads: threads) { range, _ in
                F32Elementwise.softmaxChannels(x, channels: shape.channels, output: output, pixels: range)
            }
        }
    }
}

/// Splits the (image, output row) pairs of a batch over threads: `body(image input, image output, rows)`.
func eachImageRows<T>(_ xs: TensorShape, _ shape: TensorShape, _ x: UnsafeMutablePointer<T>, _ output: UnsafeMutablePointer<T>,
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
