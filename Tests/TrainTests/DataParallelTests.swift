import XCTest
import Foundation
import Kernels
import KernelChecks
import Engine
@testable import Train

/// Two "processes" as two threads exchanging through shared slots: what MPI's gather-then-add-in-rank-order
/// does, without MPI. Each call blocks until both ranks have contributed.
final class ThreadRanks: @unchecked Sendable {
    let size: Int
    private var slots: [[Double]]
    private var floatSlots: [[Float]]
    private let condition = NSCondition()
    private var arrived = 0, generation = 0

    init(size: Int) {
        self.size = size
        slots = Array(repeating: [], count: size)
        floatSlots = Array(repeating: [], count: size)
    }

    private func barrier() {
        condition.lock()
        let g = generation
        arrived += 1
        if arrived == size { arrived = 0; generation += 1; condition.broadcast() } else { while g == generation { condition.wait() } }
        condition.unlock()
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>, rank: Int) {
        slots[rank] = Array(values)
        barrier()
        for j in 0..<values.count { var s = slots[0][j]; for r in 1..<size { s += slots[r][j] }; values[j] = s }
        barrier()
    }

    func sum(_ values: inout [Float], rank: Int) {
        floatSlots[rank] = values
        barrier()
        for j in 0..<values.count { var s = floatSlots[0][j]; for r in 1..<size { s += floatSlots[r][j] }; values[j] = s }
        barrier()
    }

    /// Runs `body(rank)` on `size` threads and waits for all.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for r in 0..<size { DispatchQueue.global().async(group: group) { body(r) } }
        group.wait()
    }
}

/// Collects per-rank results from the threads.
final class RankResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Int: T] = [:]
    func set(_ rank: Int, _ value: T) { lock.lock(); values[rank] = value; lock.unlock() }
}

final class DataParallelTests: XCTestCase {
    func randomFloats(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1, offset: Float = 0) -> [Float] {
        (0..<n).map { _ in offset + scale * (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) }
    }

    /// Synchronized BatchNorm over two ranks holding half a batch each gives the whole batch's output, input
    /// gradient and running statistics, and dgamma/dbeta whose sum over the ranks is the whole batch's
    /// (relative 1e-5: only the order of Float64 sums and the Float mean differ).
    func testSynchronizedBatchNormEqualsWholeBatch() throws {
        var rng = SplitMix64(seed: 11)
        for (images, hw, c) in [(4, 25, 11), (3, 81, 8), (2, 300, 5)] {
            let pixels = images * hw
            let x = randomFloats(pixels * c, &rng, scale: 2, offset: 0.5), dy = randomFloats(pixels * c, &rng)
            let gamma = randomFloats(c, &rng).map { $0 + 1.5 }, beta = randomFloats(c, &rng)
            @Sendable func run(_ rows: Range<Int>, _ sync: F32BatchNormTraining.Synchronizer?) -> (y: [Float], dx: [Float], dg: [Float], db: [Float], rm: [Float], rv: [Float]) {
                let n = rows.count * c
                let xs = Array(x[(rows.lowerBound * c)..<(rows.upperBound * c)]), dys = Array(dy[(rows.lowerBound * c)..<(rows.upperBound * c)])
                var y = [Float](repeating: .nan, count: n), dx = [Float](repeating: .nan, count: n)
                var dg = [Float](repeating: .nan, count: c), db = [Float](repeating: .nan, count: c)
                var rm = [Float](repeating: 0, count: c), rv = [Float](repeating: 1, count: c)
                let saved = F32BatchNormTraining.forward(xs, pixels: rows.count, channels: c, gamma: gamma, beta: beta, epsilon: 1e-5, momentum: 0.1,
                                                         runningMean: &rm, runningVariance: &rv, activation: .relu, output: &y, synchronize: sync)
                F32BatchNormTraining.backward(xs, outputGradient: dys, activation: .relu, pixels: rows.count, channels: c, gamma: gamma,
                                              saved: saved, inputGradient: &dx, gammaGradient: &dg, betaGradient: &db, synchronize: sync)
                return (y, dx, dg, db, rm, rv)
            }
            let whole = run(0..<pixels, nil)
            let ranks = ThreadRanks(size: 2)
            let results = RankResults<(y: [Float], dx: [Float], dg: [Float], db: [Float], rm: [Float], rv: [Float])>()
            let split = images / 2 * hw
            ranks.run { r in results.set(r, run(r == 0 ? 0..<split : split..<pixels, { ranks.sum($0, rank: r) })) }
            let a = try XCTUnwrap(results.values[0]), b = try XCTUnwrap(results.values[1])
            func close(_ u: [Float], _ v: [Float], _ what: String) {
                let scale = max(1e-3, v.map { abs($0) }.max() ?? 0)
                let worst = zip(u, v).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst / scale, 1e-5, "\(what) \(images)x\(hw)x\(c)")
            }
            close(a.y + b.y, whole.y, "output")
            close(a.dx + b.dx, whole.dx, "input gradient")
            close(zip(a.dg, b.dg).map { $0 + $1 }, whole.dg, "dgamma")
            close(zip(a.db, b.db).map { $0 + $1 }, whole.db, "dbeta")
            close(a.rm, whole.rm, "running mean")
            close(a.rv, whole.rv, "running variance")
            XCTAssertEqual(a.rm, b.rm, "both ranks keep the same running statistics")
        }
    }

    /// Every loss evaluated across two ranks (each holding half the batch) gives the whole batch's loss and,
    /// on each rank's logits, the whole batch's gradient (relative 1e-6).
    func testLossesAcrossRanksEqualTheWholeBatch() throws {
        var rng = SplitMix64(seed: 5)
        let n = 4, h = 7, w = 9, hw = h * w
        let binary: [Loss] = [.bce(positiveWeight: 1), .foregroundWeightedBCE, .dice(squared: false), .dice(squared: true, form: .perImage),
                              .bceDice(bceWeight: 1, diceWeight: 1), .focal(alpha: 0.25, gamma: 2), .tversky(alpha: 0.3, beta: 0.7)]
        let k = 4
        let classes: [Loss] = [.crossEntropy, .crossEntropyDice(ceWeight: 1, diceWeight: 1), .crossEntropyDice(ceWeight: 1, diceWeight: 1, form: .perImage)]
        for (loss, channels) in binary.map({ ($0, 1) }) + classes.map({ ($0, k) }) {
            let logits = Tensor(shape: TensorShape(batch: n, channels: channels, height: h, width: w), data: randomFloats(n * channels * hw, &rng, scale: 3))
            // Class 3 only in the second half, so the batch terms' classes differ between the halves.
            let ids: [Int32] = (0..<(n * hw)).map { i in channels == 1 ? (rng.next() % 3 == 0 ? 1 : 0) : Int32(i / hw < 2 ? rng.next() % 3 : rng.next() % 4) }
            @Sendable func target(_ images: Range<Int>) -> Target {
                let part = Array(ids[(images.lowerBound * hw)..<(images.upperBound * hw)])
                if channels == 1 { return .binary(Tensor(shape: TensorShape(batch: images.count, channels: 1, height: h, width: w), data: part.map { Float($0) })) }
                return .classes(part, batch: images.count, height: h, width: w)
            }
            @Sendable func slice(_ images: Range<Int>) -> Tensor {
                let per = channels * hw
                return Tensor(shape: TensorShape(batch: images.count, channels: channels, height: h, width: w),
                              data: Array(logits.data[(images.lowerBound * per)..<(images.upperBound * per)]))
            }
            let whole = loss.evaluate(logits, target(0..<n))
            let ranks = ThreadRanks(size: 2)
            let results = RankResults<(loss: Double, gradient: Tensor)>()
            ranks.run { r in
                let images = r == 0 ? 0..<2 : 2..<n
                results.set(r, loss.evaluate(slice(images), target(images), across: { v in v.withUnsafeMutableBufferPointer { ranks.sum($0, rank: r) } }))
            }
            let a = try XCTUnwrap(results.values[0]), b = try XCTUnwrap(results.values[1])
            XCTAssertEqual(a.loss, whole.loss, accuracy: 1e-9 * max(1, abs(whole.loss)), "\(loss)")
            XCTAssertEqual(a.loss, b.loss, "\(loss): every rank reports the same loss")
            let joined = a.gradient.data + b.gradient.data
            let scale = whole.gradient.data.map { abs($0) }.max() ?? 0
            let worst = zip(joined, whole.gradient.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-6 * scale, "\(loss)")
        }
    }
}
