import Foundation
import XCTest
import KernelChecks
import Engine
@testable import Train

final class LossTests: XCTestCase {
    /// A binary loss on a softmax model (it would read one mask channel for K logit channels) and cross-entropy on
    /// a sigmoid model are refused before training, with the reason.
    func testLossesThatDoNotFitTheModelAreRefused() {
        XCTAssertNotNil(Loss.dice(squared: true).problem(classes: 3, multilabel: false))
        XCTAssertNil(Loss.dice(squared: true).problem(classes: 3, multilabel: true))
        XCTAssertNil(Loss.dice(squared: true).problem(classes: 1, multilabel: false))
        XCTAssertNotNil(Loss.crossEntropy.problem(classes: 1, multilabel: false))
        XCTAssertNotNil(Loss.crossEntropyDice(ceWeight: 1, diceWeight: 1).problem(classes: 3, multilabel: true))
        XCTAssertNil(Loss.defaultMultiClass.problem(classes: 3, multilabel: false))
    }

    let binaryLosses: [Loss] = [.bce(positiveWeight: 1), .bce(positiveWeight: 3), .foregroundWeightedBCE, .dice(squared: false),
                                .dice(squared: true), .bceDice(bceWeight: 0.8, diceWeight: 0.2), .focal(alpha: 0.25, gamma: 2),
                                .tversky(alpha: 0.3, beta: 0.7)]

    /// Every loss's gradient against central differences in the logits (Float64 losses, h = 1e-3).
    func testGradientsMatchFiniteDifferences() {
        var rng = SplitMix64(seed: 0x7101)
        let shape = TensorShape(batch: 2, channels: 1, height: 5, width: 4)
        let logits = Tensor(shape: shape, data: rng.floats(shape.elementCount, scale: 3))
        let mask = Tensor(shape: shape, data: (0..<shape.elementCount).map { _ in rng.int(0...2) == 0 ? 1 : 0 })
        for loss in binaryLosses { check(loss, logits, .binary(mask), &rng) }
        let classes = TensorShape(batch: 2, channels: 3, height: 4, width: 3)
        let z = Tensor(shape: classes, data: rng.floats(classes.elementCount, scale: 3))
        let ids = (0..<24).map { _ in Int32(rng.int(0...2)) }
        let forms = [DiceForm.batchForeground, .perImage, DiceForm(batch: true, background: true), DiceForm(batch: false, background: false),
                     DiceForm(batch: true, background: false, skipAbsent: true), DiceForm(batch: false, background: false, skipAbsent: true)]
        for loss in [Loss.crossEntropy] + forms.map({ Loss.crossEntropyDice(ceWeight: 1, diceWeight: 1, form: $0) }) {
            check(loss, z, .classes(ids, batch: 2, height: 4, width: 3), &rng)
        }
        for form in forms { check(.bceDice(bceWeight: 0.5, diceWeight: 1, form: form), logits, .binary(mask), &rng) }
        // Multi-label: three independent 0/1 planes that overlap (the target of a --multilabel model).
        let labels = TensorShape(batch: 2, channels: 3, height: 3, width: 4)
        let zl = Tensor(shape: labels, data: rng.floats(labels.elementCount, scale: 3))
        let planes = Tensor(shape: labels, data: (0..<labels.elementCount).map { _ in rng.int(0...1) == 0 ? 1 : 0 })
        for loss in binaryLosses + forms.map({ Loss.bceDice(bceWeight: 1, diceWeight: 1, form: $0) }) { check(loss, zl, .binary(planes), &rng) }
    }

    /// The batch form sums over the batch: a class absent from one image but present in the other adds no
    /// term of its own for the first image (the per-image form does: 1 - 1/(sum p + 1) there). Checked against
    /// the formula written out for a 2-image, 3-class, 2-pixel case; and the background is left out.
    func testBatchDiceFollowsItsDefinition() {
        let shape = TensorShape(batch: 2, channels: 3, height: 1, width: 2)
        let z: [Float] = [0.3, -1.2, 0.8, 0.1, -0.4, 0.9, 1.5, -0.7, 0.2, 0.6, -0.3, 1.1]
        let ids: [Int32] = [0, 1, 2, 1]
        let logits = Tensor(shape: shape, data: z)
        let p = ClassLosses.probabilities(logits)
        func prob(_ n: Int, _ c: Int, _ j: Int) -> Double { p[(n * 3 + c) * 2 + j] }
        var expected = 0.0
        for c in 1...2 {
            var inter = 0.0, sp = 0.0, st = 0.0
            for n in 0..<2 { for j in 0..<2 {
                let y = ids[n * 2 + j] == c ? 1.0 : 0.0
                inter += prob(n, c, j) * y; sp += prob(n, c, j); st += y
            } }
            expected += 1 - (2 * inter + 1) / (sp + st + 1)
        }
        let (value, _) = ClassLosses.dice(logits, p, ids, form: .batchForeground)
        XCTAssertEqual(value, expected / 2, accuracy: 1e-12)
    }

    /// Prior head biases make the first prediction the class frequencies.
    func testPriorHeadBiasPredictsTheClassFrequencies() throws {
        let frequencies = [0.9, 0.07, 0.03]
        let b = PriorHeadBias.biases(frequencies: frequencies, outputChannels: 3).map(Double.init)
        let sum = b.map { Foundation.exp($0) }.reduce(0, +)
        for c in 0..<3 { XCTAssertEqual(Foundation.exp(b[c]) / sum, frequencies[c], accuracy: 1e-6) }
        let binary = Double(PriorHeadBias.biases(frequencies: [0.8, 0.2], outputChannels: 1)[0])
        XCTAssertEqual(1 / (1 + Foundation.exp(-binary)), 0.2, accuracy: 1e-6)
        // Applied to a preset's graph: its head (a 1x1 conv with bias) gets them.
        var config = try ArchitecturePreset.named("unet-xs").config
        config.classes = 3
        var graph = try config.build()
        XCTAssertEqual(PriorHeadBias.apply(to: &graph, frequencies: frequencies), 1)
        let head = graph.parameters.first { $0.name == "head.bias" }!
        XCTAssertEqual(head.floats.map(Double.init), b)
    }

    func check(_ loss: Loss, _ logits: Tensor, _ target: Target, _ rng: inout SplitMix64) {
        let (_, gradient) = loss.evaluate(logits, target)
        for _ in 0..<6 {
            let i = rng.int(0...(logits.data.count - 1))
            var plus = logits, minus = logits
            plus.data[i] += 1e-3
            minus.data[i] -= 1e-3
            let h = Double(plus.data[i]) - Double(minus.data[i])
            let numeric = (loss.evaluate(plus, target).loss - loss.evaluate(minus, target).loss) / h
            XCTAssertEqual(Double(gradient.data[i]), numeric, accuracy: 1e-4 * max(1, abs(numeric)) + 1e-6, "\(loss) at \(i)")
        }
    }

    /// Extreme logits and empty masks give finite losses and gradients.
    func testStableForExtremeLogitsAndEmptyMasks() {
        let shape = TensorShape(batch: 1, channels: 1, height: 2, width: 2)
        let extreme = Tensor(shape: shape, data: [-1e4, 1e4, -80, 80])
        for mask in [Tensor(zeros: shape), Tensor(shape: shape, data: [1, 1, 1, 1]), Tensor(shape: shape, data: [1, 0, 1, 0])] {
            for loss in binaryLosses {
                let (value, g) = loss.evaluate(extreme, .binary(mask))
                XCTAssertTrue(value.isFinite && g.data.allSatisfy { $0.isFinite }, "\(loss) on \(mask.data)")
            }
        }
        let perfect = Loss.bce(positiveWeight: 1).evaluate(Tensor(shape: shape, data: [-100, 100, -100, 100]), .binary(Tensor(shape: shape, data: [0, 1, 0, 1])))
        XCTAssertLessThan(perfect.loss, 1e-30)
    }

    func testOptimizersFollowTheirDefinitions() throws {
        let b = GraphBuilder(seed: 1)
        let x = b.input("x", channels: 1)
        b.output("y", b.conv(x, 1, kernel: 1, name: "c"))
        let model = try Autograd(b.graph, threads: 1)
        let w0 = model.parameter(0)[0]
        let input = Tensor(shape: TensorShape(channels: 1, height: 1, width: 1), data: [2])
        _ = try model.forward([input])
        try model.backward([Tensor(shape: TensorShape(channels: 1, height: 1, width: 1), data: [0.5])])
        XCTAssertEqual(model.gradients[0][0], 1)  // dL/dw = 0.5 * 2
        let adam = Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8))
        adam.update(model, learningRate: 0.01)
        XCTAssertEqual(model.parameter(0)[0], w0 - 0.01, accuracy: 1e-6, "Adam's first step is lr * sign(g)")
        let schedule = LearningRateSchedule(base: 1, shape: .cosine(minimum: 0), warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(schedule.rate(at: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(schedule.rate(at: 60), 0.5, accuracy: 1e-5)
        XCTAssertEqual(schedule.rate(at: 110), 0, accuracy: 1e-6)
        XCTAssertEqual(LearningRateSchedule(base: 1, shape: .poly(power: 0.9), totalSteps: 100).rate(at: 50), Float(0.5358867), accuracy: 1e-5)
    }
}
