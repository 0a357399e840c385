import XCTest
import Foundation
import Engine
import Kernels
@testable import Train

/// One training step of `unet-s` (seed 7) at 64x64, batch 2, against PyTorch (float64), from the golden
/// file written by `Benchmarks/parity/parity_step.py` (see its header for the command).
///
/// Tolerance: 1e-4 relative for the loss and every parameter gradient's L2 norm; sampled gradient
/// entries within 1e-4 x (|expected| + norm / sqrt(count)) for igemm and Winograd F(2x2,3x3), 5e-3 x
/// for Winograd F(4x4,3x3).
final class ParityTests: XCTestCase {
    struct Golden: Decodable {
        struct Gradient: Decodable {
            let name: String; let norm: Double; let indices: [Int]; let values: [Double]
            /// PyTorch's own float32 step against float64 (multi-class golden file only).
            let f32_norm_error: Double?; let f32_entry_error: Double?
        }
        let loss: Double
        let parameters: [Gradient]
    }

    static func batch(_ n: Int = 2, size: Int = 64) -> (Tensor, Tensor) {
        var x = Tensor(zeros: TensorShape(batch: n, channels: 1, height: size, width: size))
        var m = x
        for b in 0..<n {
            for y in 0..<size {
                for xx in 0..<size {
                    x[b, 0, y, xx] = Float(0.5 + 0.4 * sin(0.11 * Double(xx) + 0.07 * Double(y) + Double(b)) * cos(0.05 * Double(y) - 0.3 * Double(b)))
                    let dy = Double(y) - Double(size) / 2 - 4 * Double(b), dx = Double(xx) - Double(size) / 2 + 3 * Double(b)
                    m[b, 0, y, xx] = dy * dy + dx * dx < pow(Double(size) / 4, 2) ? 1 : 0
                }
            }
        }
        return (x, m)
    }

    /// Class ids of the multi-class step (N x H x W): disks of classes 1-5 on background 0, class 2 only in
    /// the first image, class 6 nowhere (`class_ids` in parity_step.py).
    static func classIds(_ n: Int = 2, size: Int = 64) -> [Int32] {
        var ids = [Int32](repeating: 0, count: n * size * size)
        for b in 0..<n {
            for c in 1...5 where !(b == 1 && c == 2) {
                let cy = (7 * c + 11 * b) % (size - 16) + 8, cx = (13 * c + 5 * b) % (size - 16) + 8, r = 2 + c
                for y in 0..<size { for x in 0..<size where (y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r { ids[(b * size + y) * size + x] = Int32(c) } }
            }
        }
        return ids
    }

    /// The multi-class step: unet-xs with 7 classes (seed 7), the default multi-class loss (cross-entropy +
    /// batch soft Dice over the foreground classes), with igemm and with the training default. The loss within
    /// 1e-4; each gradient's norm and entries within 1e-4, or within 3x PyTorch's own float32 error where that
    /// is larger: in the first block (enc1), whose BatchNorm sees a smooth image, float32 PyTorch itself is
    /// 1.8e-3 off float64 in norm and 2e-2 in single entries, and segrun's float32 matches it.
    func testMultiClassStepMatchesPyTorch() throws {
        for algorithm in [TrainingConvolutions.uniform(.igemm), .uniform(.winograd(.f2))] {
            try oneStep(algorithm, preset: "unet-xs", classes: 7, golden: "unet-xs-7class-64-step.json")
        }
        // The training default runs the 128-channel bottleneck with Winograd F(4x4,3x3), whose rounding the
        // bottleneck's BatchNorm (8x8 pixels, batch 2) amplifies: norms within 2e-3 (1.0e-3 measured), entries
        // within 1e-2 (6.3e-3 measured) of float64, as with F4 everywhere on unet-s.
        try oneStep(.auto, preset: "unet-xs", classes: 7, golden: "unet-xs-7class-64-step.json", normTolerance: 2e-3, entryTolerance: 1e-2)
    }

    func testOneStepMatchesPyTorch() throws {
        try oneStep(.uniform(.igemm))
    }

    /// The same step with Winograd F(2x2,3x3) convolutions: as exact as igemm.
    func testOneStepWithWinogradF2MatchesPyTorch() throws {
        try oneStep(.uniform(.winograd(.f2)))
    }

    /// Training's default, F4 on layers of 128+ channels and F2 below: every entry within 1e-4 (3e-5 measured).
    func testOneStepWithTrainingDefaultMatchesPyTorch() throws {
        XCTAssertEqual(TrainingOptions().convolutions, .auto)
        try oneStep(.auto)
    }

    /// With Winograd F(4x4,3x3) everywhere: the loss and every gradient norm within 1e-4, single entries within
    /// 5e-3 (measured 1.2e-3: F4's transforms amplify rounding about 10x, and BatchNorm's backward cancels
    /// large terms; the wide 32- and 64-channel layers are where it shows, so `.auto` keeps F4 off them).
    func testOneStepWithWinogradF4MatchesPyTorch() throws {
        try oneStep(.uniform(.winograd(.f4)), entryTolerance: 5e-3)
    }

    /// The 3D step: unet3d-xs (seed 7) on 2 volumes of 16^3, 0.8 BCE + 0.2 Dice per volume, against PyTorch's
    /// 3D operators in float64 (`Benchmarks/parity/parity_step_3d.py`, the weights from segrun's ONNX export).
    /// The depth taps stacked as channels run every convolution, forward and backward, through the 2D kernels;
    /// the issue asks 1e-4 per gradient entry. With igemm and with the training default.
    func testUNet3DStepMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/unet3d-xs-16-step.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        var config = try ArchitecturePreset.named("unet3d-xs").config
        config.seed = 7
        let graph = try config.build()
        let n = 2, size = 16
        var x = Tensor(zeros: TensorShape(batch: n, channels: 1, depth: size, height: size, width: size))
        var m = Tensor(zeros: TensorShape(batch: n, channels: 1, height: size * size, width: size))
        for b in 0..<n { for z in 0..<size { for y in 0..<size { for xx in 0..<size {
            let i = ((b * size + z) * size + y) * size + xx
            x.data[i] = Float(0.5 + 0.4 * sin(0.21 * Double(xx) + 0.13 * Double(y) + 0.17 * Double(z) + Double(b))
                              * cos(0.11 * Double(y) - 0.3 * Double(b) + 0.05 * Double(z)))
            let dz = Double(z) - Double(size) / 2 + Double(b), dy = Double(y) - Double(size) / 2 - 2 * Double(b), dx = Double(xx) - Double(size) / 2 + Double(b)
            m.data[i] = dz * dz + dy * dy + dx * dx < pow(Double(size) / 4, 2) ? 1 : 0
        } } } }
        for algorithm in [TrainingConvolutions.uniform(.igemm), .auto] {
            let tape = try Autograd(graph, threads: 2)
            tape.convolutions = algorithm
            let logits = try tape.forward([x])[0]
            let (loss, gradient) = Loss.bceDice(bceWeight: 0.8, diceWeight: 0.2, form: .perImage).evaluate(PatchTrainer.flattened(logits), .binary(m))
            try tape.backward([Tensor(shape: logits.shape, data: gradient.data)])
            XCTAssertEqual(loss, golden.loss, accuracy: 1e-4 * golden.loss, "loss")
            var worstEntry = 0.0
            for g in golden.parameters {
                guard let p = graph.parameters.firstIndex(where: { $0.name == g.name }) else { XCTFail("no parameter \(g.name)"); continue }
                let grad = tape.gradients[p]
                let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                XCTAssertEqual(norm, g.norm, accuracy: 1e-4 * g.norm, "\(g.name) gradient norm (\(algorithm))")
                let typical = g.norm / Double(grad.count).squareRoot()
                for (i, expected) in zip(g.indices, g.values) {
                    worstEntry = max(worstEntry, abs(Double(grad[i]) - expected) / (abs(expected) + typical))
                    XCTAssertEqual(Double(grad[i]), expected, accuracy: 1e-4 * (abs(expected) + typical), "\(g.name)[\(i)] (\(algorithm))")
                }
            }
            print("3D parity (\(algorithm)): loss \(loss) vs \(golden.loss); worst entry error \(worstEntry)")
        }
    }

    func oneStep(_ algorithm: TrainingConvolutions, preset: String = "unet-s", classes: Int = 1, golden file: String = "unet-s-64-step.json",
                 normTolerance: Double = 1e-4, entryTolerance: Double = 1e-4) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/" + file)
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        var config = try ArchitecturePreset.named(preset).config
        config.seed = 7
        config.classes = classes
        let graph = try config.build()
        let model = try Autograd(graph, threads: 2)
        model.convolutions = algorithm
        let (x, m) = ParityTests.batch()
        let logits = try model.forward([x])[0]
        let (loss, gradient) = classes == 1
            ? Loss.bceDice(bceWeight: 0.8, diceWeight: 0.2, form: .perImage).evaluate(logits, .binary(m))
            : Loss.defaultMultiClass.evaluate(logits, .classes(ParityTests.classIds(), batch: 2, height: 64, width: 64))
        try model.backward([gradient])
        XCTAssertEqual(loss, golden.loss, accuracy: 1e-4 * golden.loss, "loss")
        var worstNorm = 0.0, worstEntry = 0.0
        for g in golden.parameters {
            guard let p = graph.parameters.firstIndex(where: { $0.name == g.name }) else { XCTFail("no parameter \(g.name)"); continue }
            let grad = model.gradients[p]
            let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            worstNorm = max(worstNorm, abs(norm - g.norm) / max(g.norm, 1e-12))
            XCTAssertEqual(norm, g.norm, accuracy: max(normTolerance, 3 * (g.f32_norm_error ?? 0)) * g.norm, "\(g.name) gradient norm")
            let typical = g.norm / Double(grad.count).squareRoot()
            for (i, expected) in zip(g.indices, g.values) {
                let bound = max(entryTolerance, 3 * (g.f32_entry_error ?? 0)) * (abs(expected) + typical)
                worstEntry = max(worstEntry, abs(Double(grad[i]) - expected) / (abs(expected) + typical))
                XCTAssertEqual(Double(grad[i]), expected, accuracy: bound, "\(g.name)[\(i)]")
            }
        }
        print("parity (\(algorithm)): loss \(loss) vs \(golden.loss); worst relative norm error \(worstNorm), worst entry error \(worstEntry)")
    }
}
