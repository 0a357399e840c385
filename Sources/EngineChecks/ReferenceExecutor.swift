import Engine
import Kernels

/// A hand-written Float64 executor: straightforward loops over NCHW, no packing, no fusion, no
/// folding, no arena. It runs the graph exactly as built (BatchNorm as BatchNorm), so comparing the
/// optimized executor against it also checks the graph passes.
public enum ReferenceExecutor {
    /// A Float64 tensor in NCHW.
    public struct DTensor {
        public var shape: TensorShape
        public var data: [Double]

        init(_ shape: TensorShape) {
            self.shape = shape
            data = [Double](repeating: 0, count: shape.elementCount)
        }

        @inline(__always) func index(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
            ((n * shape.channels + c) * shape.height + y) * shape.width + x
        }
    }

    /// `batchStatistics`: BatchNorm normalizes with the batch's mean and (biased) variance, as in training.
    public static func run(_ graph: Graph, _ inputs: [Tensor], batchStatistics: Bool = false) throws(GraphError) -> [Tensor] {
        try runDouble(graph, inputs, batchStatistics: batchStatistics).map { Tensor(shape: $0.shape, data: $0.data.map { Float($0) }) }
    }

    /// The outputs in Float64, unrounded (finite differences need them: rounding the outputs to Float32
    /// would put an error of about 1e-7 of the loss into every difference quotient).
    public static func runDouble(_ graph: Graph, _ inputs: [Tensor], batchStatistics: Bool = false) throws(GraphError) -> [DTensor] {
        let shapes = try graph.inferShapes(inputs.map { $0.shape })
        var values: [DTensor] = []
        var nextInput = 0
        for (i, node) in graph.nodes.enumerated() {
            let xs = node.inputs.map { values[$0] }
            var out = DTensor(shapes[i])
            let p = { (index: Int) -> [Double] in graph.parameters[index].floats.map { Double($0) } }
            switch node.op {
            case .input:
                out.data = inputs[nextInput].data.map { Double($0) }
                nextInput += 1
            case .conv2d(let a): conv(xs[0], a, p(a.weight), a.bias.map(p), &out)
            case .convTranspose2d(let a): convTranspose(xs[0], a, p(a.weight), a.bias.map(p), &out)
            case .maxPool2d(let a): pool(xs[0], a, max: true, &out)
            case .averagePool2d(let a): pool(xs[0], a, max: false, &out)
            case .adaptiveAveragePool2d(let bins): adaptivePool(xs[0], bins, &out)
            case .upsample(let a): resize(xs[0], a.mode, &out)
            case .concat:
                let s = out.shape
                var c0 = 0
                for x in xs {
                    for n in 0..<s.batch { for c in 0..<x.shape.channels { for y in 0..<s.height { for xx in 0..<s.width {
                        out.data[out.index(n, c0 + c, y, xx)] = x.data[x.index(n, c, y, xx)]
                    } } } }
                    c0 += x.shape.channels
                }
            case .add(let act):
                for j in 0..<out.data.count { out.data[j] = act.apply(xs[0].data[j] + xs[1].data[j]) }
            case .mul:
                let x = xs[0], g = xs[1], s = out.shape
                for n in 0..<s.batch { for c in 0..<s.channels { for y in 0..<s.height { for xx in 0..<s.width {
                    let gv = g.data[g.index(n, g.shape.channels == 1 ? 0 : c, g.shape.height == 1 ? 0 : y, g.shape.width == 1 ? 0 : xx)]
                    out.data[out.index(n, c, y, xx)] = x.data[x.index(n, c, y, xx)] * gv
                } } } }
            case .batchNorm(let a):
                let gamma = p(a.gamma), beta = p(a.beta)
                var mean = p(a.mean), variance = p(a.variance)
                let s = out.shape
                if batchStatistics {
                    let count = Double(s.batch * s.height * s.width)
                    for c in 0..<s.channels {
                        var m = 0.0, v = 0.0
                        for n in 0..<s.batch { for y in 0..<s.height { for xx in 0..<s.width { m += xs[0].data[out.index(n, c, y, xx)] } } }
                        m /= count
                        for n in 0..<s.batch { for y in 0..<s.height { for xx in 0..<s.width {
                            let d = xs[0].data[out.index(n, c, y, xx)] - m
                            v += d * d
                        } } }
                        mean[c] = m
                        variance[c] = v / count
                    }
                }
                for n in 0..<s.batch { for c in 0..<s.channels {
                    let inv = 1 / (variance[c] + Double(a.epsilon)).squareRoot()
                    for y in 0..<s.height { for xx in 0..<s.width {
                        let j = out.index(n, c, y, xx)
                        out.data[j] = a.activation.apply((xs[0].data[j] - mean[c]) * inv * gamma[c] + beta[c])
                    } }
                } }
            case .activation(let kind):
                for j in 0..<out.data.count {
                    let v = xs[0].data[j]
                    switch kind {
                    case .relu: out.data[j] = v < 0 ? 0 : v
                    case .leakyRelu(let slope): out.data[j] = v < 0 ? v * Double(slope) : v
                    case .sigmoid: out.data[j] = LayerReference.sigmoid(v)
                    }
                }
            case .softmax:
                let s = out.shape
                for n in 0..<s.batch { for y in 0..<s.height { for xx in 0..<s.width {
                    var m = -Double.infinity
                    for c in 0..<s.channels { m = max(m, xs[0].data[out.index(n, c, y, xx)]) }
                    var sum = 0.0
                    for c in 0..<s.channels { sum += LayerReference.exp64(xs[0].data[out.index(n, c, y, xx)] - m) }
                    for c in 0..<s.channels {
                        out.data[out.index(n, c, y, xx)] = LayerReference.exp64(xs[0].data[out.index(n, c, y, xx)] - m) / sum
                    }
                } } }
            }
            values.append(out)
        }
        return graph.outputs.map { values[$0.node] }
    }

    static func conv(_ x: DTensor, _ a: ConvAttributes, _ w: [Double], _ b: [Double]?, _ out: inout DTensor) {
        let s = out.shape, cin = x.shape.channels, groupIn = cin / a.groups, groupOut = a.outChannels / a.groups
        for n in 0..<s.batch { for o in 0..<s.channels {
            let group = o / groupOut
            for oy in 0..<s.height { for ox in 0..<s.width {
                var acc = b?[o] ?? 0
                for ci in 0..<groupIn { for ky in 0..<a.kernelHeight { for kx in 0..<a.kernelWidth {
                    let iy = oy * a.strideY - a.padTop + ky * a.dilationY, ix = ox * a.strideX - a.padLeft + kx * a.dilationX
                    if iy < 0 || iy >= x.shape.height || ix < 0 || ix >= x.shape.width { continue }
                    acc += w[((o * groupIn + ci) * a.kernelHeight + ky) * a.kernelWidth + kx]
                        * x.data[x.index(n, group * groupIn + ci, iy, ix)]
                } } }
                out.data[out.index(n, o, oy, ox)] = a.activation.apply(acc)
            } }
        } }
    }

    static func convTranspose(_ x: DTensor, _ a: ConvTransposeAttributes, _ w: [Double], _ b: [Double]?, _ out: inout DTensor) {
        let s = out.shape, k = a.kernel
        for n in 0..<s.batch { for o in 0..<s.channels { for y in 0..<s.height { for xx in 0..<s.width {
            out.data[out.index(n, o, y, xx)] = b?[o] ?? 0
        } } } }
        for n in 0..<s.batch { for i in 0..<x.shape.channels { for iy in 0..<x.shape.height { for ix in 0..<x.shape.width {
            let v = x.data[x.index(n, i, iy, ix)]
            for o in 0..<s.channels { for ky in 0..<k { for kx in 0..<k {
                let oy = iy * a.stride - a.padding + ky, ox = ix * a.stride - a.padding + kx
                if oy < 0 || oy >= s.height || ox < 0 || ox >= s.width { continue }
                out.data[out.index(n, o, oy, ox)] += v * w[((i * s.channels + o) * k + ky) * k + kx]
            } } }
        } } } }
        for j in 0..<out.data.count { out.data[j] = a.activation.apply(out.data[j]) }
    }

    static func pool(_ x: DTensor, _ a: PoolAttributes, max isMax: Bool, _ out: inout DTensor) {
        let s = out.shape
        for n in 0..<s.batch { for c in 0..<s.channels { for oy in 0..<s.height { for ox in 0..<s.width {
            var best = -Double.infinity, sum = 0.0, count = 0
            for ky in 0..<a.kernel { for kx in 0..<a.kernel {
                let iy = oy * a.stride - a.padding + ky, ix = ox * a.stride - a.padding + kx
                if iy < 0 || iy >= x.shape.height || ix < 0 || ix >= x.shape.width { continue }
                let v = x.data[x.index(n, c, iy, ix)]
                best = max(best, v)
                sum += v
                count += 1
            } }
            out.data[out.index(n, c, oy, ox)] = isMax ? best : sum / Double(count)
        } } } }
    }

    static func adaptivePool(_ x: DTensor, _ bins: Int, _ out: inout DTensor) {
        let s = out.shape, h = x.shape.height, w = x.shape.width
        for n in 0..<s.batch { for c in 0..<s.channels { for oy in 0..<bins { for ox in 0..<bins {
            let y0 = oy * h / bins, y1 = ((oy + 1) * h + bins - 1) / bins
            let x0 = ox * w / bins, x1 = ((ox + 1) * w + bins - 1) / bins
            var sum = 0.0
            for y in y0..<y1 { for xx in x0..<x1 { sum += x.data[x.index(n, c, y, xx)] } }
            out.data[out.index(n, c, oy, ox)] = sum / Double((y1 - y0) * (x1 - x0))
        } } } }
    }

    static func resize(_ x: DTensor, _ mode: UpsampleMode, _ out: inout DTensor) {
        let s = out.shape, h = x.shape.height, w = x.shape.width
        for n in 0..<s.batch { for c in 0..<s.channels { for oy in 0..<s.height { for ox in 0..<s.width {
            switch mode {
            case .nearest:
                out.data[out.index(n, c, oy, ox)] = x.data[x.index(n, c, min(oy * h / s.height, h - 1), min(ox * w / s.width, w - 1))]
            case .bilinear(let alignCorners):
                let sy = F32Upsample.sourceCoordinate(oy, inSize: h, outSize: s.height, alignCorners: alignCorners)
                let sx = F32Upsample.sourceCoordinate(ox, inSize: w, outSize: s.width, alignCorners: alignCorners)
                let y0 = min(Int(sy), h - 1), x0 = min(Int(sx), w - 1)
                let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                let fy = sy - Double(y0), fx = sx - Double(x0)
                out.data[out.index(n, c, oy, ox)] =
                    (1 - fy) * ((1 - fx) * x.data[x.index(n, c, y0, x0)] + fx * x.data[x.index(n, c, y0, x1)])
                    + fy * ((1 - fx) * x.data[x.index(n, c, y1, x0)] + fx * x.data[x.index(n, c, y1, x1)])
            }
        } } } }
    }
}
