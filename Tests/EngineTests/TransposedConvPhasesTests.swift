import Engine
import EngineChecks
import KernelChecks
import XCTest

/// Strided transposed convolutions outside the 2x2 up-step run as one ordinary convolution per output phase
/// (`TransposedConvPhases`); the executor's output must match the Float64 reference on random geometries:
/// kernels 1-5 per axis, strides 2-3, asymmetric padding, output padding, odd sizes, channel counts off the
/// vector width, batch 2, and be the same bits on 1 and 2 threads. Tolerance 1e-4 of `|ref| + rms(ref)`
/// (Winograd F(4x4,3x3) on 3x3 phase kernels, as for convolutions).
final class TransposedConvPhasesTests: XCTestCase {
    func testPhasesMatchTheReference() throws {
        var rng = SplitMix64(seed: 20)
        for trial in 0..<24 {
            let kh = rng.int(1...5), kw = rng.int(1...5), sy = rng.int(2...3), sx = rng.int(1...3)
            let pt = rng.int(0...(kh - 1)), pb = rng.int(0...(kh - 1)), pl = rng.int(0...(kw - 1)), pr = rng.int(0...(kw - 1))
            let oy = rng.int(0...(sy - 1)), ox = rng.int(0...(sx - 1))
            let cin = rng.pick([1, 3, 5, 17]), cout = rng.pick([1, 2, 7, 19])
            let h = rng.int(3...11), w = rng.int(3...11)
            var g = Graph()
            g.parameters = [Parameter(name: "w", shape: [cin, cout, kh, kw], values: rng.floats(cin * cout * kh * kw)),
                            Parameter(name: "b", shape: [cout], values: rng.floats(cout))]
            let window = SpatialWindow(kernel: [kh, kw], stride: [sy, sx], dilation: [1, 1], padBegin: [pt, pl], padEnd: [pb, pr])
            let op = ConvTransposeAttributes(outChannels: cout, window: window, outputPadding: [oy, ox], weight: 0, bias: 1,
                                             activation: trial % 3 == 0 ? .relu : .none)
            g.nodes = [Node(name: "x", op: .input(InputNode(channels: cin)), inputs: []), Node(name: "t", op: .convTranspose2d(op), inputs: [0])]
            g.outputs = [GraphOutput(name: "y", node: 1)]
            let shape = TensorShape(batch: 2, channels: cin, height: h, width: w)
            guard (try? g.inferShapes([shape])) != nil else { continue }
            let x = Tensor(shape: shape, data: rng.floats(shape.elementCount))
            let expected = try ReferenceExecutor.run(g, [x])[0]
            let one = try Executor(g, threads: 1).run(x)[0]
            let two = try Executor(g, threads: 2).run(x)[0]
            let label = "#\(trial) \(cin)->\(cout) k\(kh)x\(kw) s\(sy)x\(sx) pads \(pt),\(pl),\(pb),\(pr) out pad \(oy),\(ox) on \(h)x\(w)"
            XCTAssertEqual(one.shape, expected.shape, label)
            let rms = (expected.data.reduce(0) { $0 + Double($1) * Double($1) } / Double(expected.data.count)).squareRoot()
            for i in 0..<one.data.count where abs(Double(one.data[i] - expected.data[i])) > 1e-4 * (abs(Double(expected.data[i])) + rms) {
                XCTFail("\(label): element \(i) \(one.data[i]) vs \(expected.data[i])")
                break
            }
            XCTAssertEqual(one.data, two.data, "\(label): 1 and 2 threads differ")
        }
    }
}
