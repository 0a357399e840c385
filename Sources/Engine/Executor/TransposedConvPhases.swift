import Kernels

/// A strided transposed convolution as `strideY * strideX` ordinary convolutions, one per output phase, so
/// that shapes the 2x2 up-step kernel does not cover (MONAI's 3x3 stride 2 with `output_padding`, 4x4 stride 2)
/// run on the fast convolution paths (implicit GEMM, Winograd where the phase kernel is 3x3) instead of the
/// general gather.
///
/// Along one axis, output `o` with `o + padBegin = q * s + r` receives the taps `t = r + j * s` of input
/// `q - j`: a correlation of the input with the sub-kernel `w'[u] = w[r + (kr - 1 - u) * s]` (`kr` taps),
/// evaluated at `q`. Phase `r`'s outputs are `q = qMin ... qMax`, which is an ordinary stride-1 convolution
/// with padding `kr - 1 - qMin` before and whatever makes its length `qMax - qMin + 1` after. Each output
/// pixel belongs to one phase, so the bias and activation are fused into each phase's convolution.
struct TransposedConvPhases {
    struct Phase {
        let operation: Conv2dOperator
        /// The first output row and column this phase writes; it writes every `stride`-th after them.
        let firstRow: Int, firstColumn: Int
        let rows: Int, columns: Int
    }

    let phases: [Phase]
    let geometry: ConvTranspose2dGeometry

    /// One axis of one phase: sub-kernel taps, first q, output count and the convolution's paddings, or nil
    /// when the phase has no tap or would need negative padding (the general path then runs instead).
    private struct Axis {
        let phase: Int, taps: Int, firstOutput: Int, count: Int, padBegin: Int, padEnd: Int
        init?(phase r: Int, kernel k: Int, stride s: Int, padBegin pad: Int, input: Int, output: Int) {
            let taps = (k - r + s - 1) / s
            // Outputs o = q * s + r - pad with 0 <= o < output.
            let qMin = (pad - r + s - 1 >= 0) ? (pad - r + s - 1) / s : -((r - pad) / s)
            let qMax = (output - 1 + pad - r) >= 0 ? (output - 1 + pad - r) / s : -1
            let count = qMax - qMin + 1
            let before = taps - 1 - qMin, after = count - 1 + taps - input - before
            guard taps > 0, count > 0, before >= 0, after >= 0 else { return nil }
            phase = r
            self.taps = taps
            firstOutput = qMin * s + r - pad
            self.count = count
            padBegin = before
            padEnd = after
        }
    }

    /// The phases of `g` (batch 1), or nil when the decomposition does not apply: stride 1, dilation, or a
    /// phase without taps or with negative padding.
    init?(_ g: ConvTranspose2dGeometry, weights: [Float], bias: [Float]?, activation: FusedActivation,
          algorithm: (Conv2dGeometry) -> ConvAlgorithm, threads: Int, node: Node) throws(GraphError) {
        guard g.strideY > 1 || g.strideX > 1, g.dilationY == 1, g.dilationX == 1, !g.isUpStep2x2 else { return nil }
        var rowAxes: [Axis] = [], columnAxes: [Axis] = []
        for r in 0..<g.strideY {
            guard let a = Axis(phase: r, kernel: g.kernelHeight, stride: g.strideY, padBegin: g.padTop, input: g.inHeight, output: g.outHeight) else { return nil }
            rowAxes.append(a)
        }
        for r in 0..<g.strideX {
            guard let a = Axis(phase: r, kernel: g.kernelWidth, stride: g.strideX, padBegin: g.padLeft, input: g.inWidth, output: g.outWidth) else { return nil }
            columnAxes.append(a)
        }
        let cin = g.inChannels, cout = g.outChannels, kh = g.kernelHeight, kw = g.kernelWidth
        var phases: [Phase] = []
        for ay in rowAxes {
            for ax in columnAxes {
                // OIHW weights of the phase: w'[o][i][uy][ux] = w[i][o][ry + (kry - 1 - uy) sy][rx + (krx - 1 - ux) sx].
                var w = [Float](repeating: 0, count: cout * cin * ay.taps * ax.taps)
                for o in 0..<cout { for i in 0..<cin { for uy in 0..<ay.taps { for ux in 0..<ax.taps {
                    let ky = ay.phase + (ay.taps - 1 - uy) * g.strideY, kx = ax.phase + (ax.taps - 1 - ux) * g.strideX
                    w[((o * cin + i) * ay.taps + uy) * ax.taps + ux] = weights[((i * cout + o) * kh + ky) * kw + kx]
                } } } }
                let conv = Conv2dGeometry(batch: 1, inChannels: cin, inHeight: g.inHeight, inWidth: g.inWidth, outChannels: cout,
                                          kernelHeight: ay.taps, kernelWidth: ax.taps, strideY: 1, strideX: 1, dilationY: 1, dilationX: 1,
                                          padTop: ay.padBegin, padLeft: ax.padBegin, padBottom: ay.padEnd, padRight: ax.padEnd, groups: 1)
                let operation = try Conv2dOperator.make(conv, weights: w, bias: bias, activation: activation, algorithm: algorithm(conv),
                                                        threads: threads, node: node)
                phases.append(Phase(operation: operation, firstRow: ay.firstOutput, firstColumn: ax.firstOutput, rows: ay.count, columns: ax.count))
            }
        }
        self.phases = phases
        geometry = g
    }

    /// Floats of workspace: the largest phase's output plus its convolution's workspace.
    var workspaceFloats: Int {
        phases.map { $0.rows * $0.columns * geometry.outChannels + $0.operation.workspaceFloats }.max() ?? 0
    }

    var packedWeightBytes: Int { phases.reduce(0) { $0 + $1.operation.plan.packedWeightBytes } }

    /// Runs one image (NHWC in, NHWC out), each phase's convolution into the workspace, then its pixels to
    /// their places in the output (rows over threads).
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, threads: Int) {
        let g = geometry, cout = g.outChannels, sy = g.strideY, sx = g.strideX, outWidth = g.outWidth
        for phase in phases {
            let temp = workspace, scratch = workspace + phase.rows * phase.columns * cout
            phase.operation.run(input: input, output: temp, workspace: scratch)
            ParallelFor.run(count: phase.rows, threads: threads) { rows, _ in
                for row in rows {
                    let y = phase.firstRow + row * sy
                    var source = UnsafePointer(temp + row * phase.columns * cout)
                    var target = output + (y * outWidth + phase.firstColumn) * cout
                    for _ in 0..<phase.columns {
                        target.update(from: source, count: cout)
                        source += cout
                        target += sx * cout
                    }
                }
            }
        }
    }
}
