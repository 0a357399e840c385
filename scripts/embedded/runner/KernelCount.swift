// One kernel on one layer, run a given number of times: what `scripts/count-instructions` traces under qemu to
// count instructions per output on aarch64 and x86-64 (there is no ARM hardware to time on).
//
//   kernel-count KERNEL REPEATS     KERNEL: f32-igemm, f32-winograd-f4, q8-gemm, q8-dot, q8-winograd
//
// The layer is a 3x3, 32 -> 32 channel convolution on a 24x24 image (stride 1, padding 1): the shape of a
// U-Net's first level, small enough to trace.
import Kernels

let layer = Conv2dGeometry(batch: 1, inChannels: 32, inHeight: 24, inWidth: 24, outChannels: 32, kernel: 3, padding: 1)

func pseudoRandom(_ i: Int) -> Int { (i &* 2_654_435_761) >> 7 }

func runFloat(_ algorithm: ConvAlgorithm, repeats: Int) -> Int32 {
    let g = layer
    var input = [Float](repeating: 0, count: g.inputShape.elementCount)
    for i in 0..<input.count { input[i] = Float(pseudoRandom(i) & 255) / 128 - 1 }
    var weights = [Float](repeating: 0, count: g.weightCount)
    for i in 0..<weights.count { weights[i] = Float(pseudoRandom(i &+ 7) & 255) / 1024 - 0.125 }
    let bias = [Float](repeating: 0.01, count: g.outChannels)
    guard let plan = try? F32Conv2dPlan(g, weights: weights, bias: bias, activation: .relu, algorithm: algorithm) else { return 1 }
    let prepared = AlignedBuffer(count: plan.preparedInputFloats)
    let scratch = AlignedBuffer(count: plan.scratchFloats)
    var output = [Float](repeating: 0, count: g.outputShape.elementCount)
    for _ in 0..<repeats {
        input.withUnsafeBufferPointer { plan.prepareInput($0.baseAddress!, into: prepared.pointer, rows: 0..<plan.preparedRows) }
        output.withUnsafeMutableBufferPointer { out in
            plan.run(input: prepared.constPointer, output: out.baseAddress!, items: 0..<plan.workItems, scratch: scratch.pointer)
        }
    }
    return output[5] > 1e30 ? 1 : 0
}

func runInt8(_ kernel: String, repeats: Int) -> Int32 {
    let g = layer
    var input = [UInt8](repeating: 0, count: g.inputShape.elementCount)
    for i in 0..<input.count { input[i] = UInt8(truncatingIfNeeded: pseudoRandom(i)) }
    var weights = [Int8](repeating: 0, count: g.weightCount)
    for i in 0..<weights.count { weights[i] = Int8(truncatingIfNeeded: pseudoRandom(i &+ 7) % 255) }
    let multipliers = [Float](repeating: 1e-4, count: g.outChannels)
    // A bias (not nil): with nil, LLVM vectorizes the offset loop of the Winograd plan with masked loads
    // (`vpmaskmovd`), which qemu 7.2 faults on when a masked-off lane is unmapped; hardware does not.
    let bias = [Int32](repeating: 100, count: g.outChannels)
    var output = [UInt8](repeating: 0, count: g.outputShape.elementCount)
    func run<P: Q8LayerPlan>(_ plan: P) {
        let scratch = AlignedBuffer(count: plan.scratchBytes / 4 + 16)
        for _ in 0..<repeats {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBytes { y in
                    plan.run(input: x.baseAddress!, output: y.baseAddress!, items: 0..<plan.workItems,
                             scratch: UnsafeMutableRawPointer(scratch.pointer))
                }
            }
        }
    }
    do throws(ShapeError) {
        try weights.withUnsafeBufferPointer { w throws(ShapeError) in
            try bias.withUnsafeBufferPointer { b throws(ShapeError) in
                if kernel == "q8-winograd" {
                    run(try Q8WinogradPlan(g, weights: w.baseAddress!, bias: b.baseAddress!, multipliers: multipliers,
                                           inputZeroPoint: 3, activation: .relu, output: .quantized(zeroPoint: 0)))
                } else {
                    run(try Q8Conv2dPlan(g, weights: w.baseAddress!, bias: b.baseAddress!, multipliers: multipliers,
                                         inputZeroPoint: 3, activation: .relu, output: .quantized(zeroPoint: 0),
                                         dotProduct: kernel == "q8-dot"))
                }
            }
        }
    } catch { return 1 }
    return 0
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    guard argc == 3, let repeats = Int(String(cString: argv[2]!)) else {
        print("usage: kernel-count f32-igemm|f32-winograd-f4|q8-gemm|q8-dot|q8-winograd REPEATS")
        return 2
    }
    let kernel = String(cString: argv[1]!)
    switch kernel {
    case "f32-igemm": return runFloat(.igemm, repeats: repeats)
    case "f32-winograd-f4": return runFloat(.winograd(.f4), repeats: repeats)
    case "q8-gemm", "q8-dot", "q8-winograd": return runInt8(kernel, repeats: repeats)
    default:
        print("unknown kernel \(kernel)")
        return 2
    }
}
