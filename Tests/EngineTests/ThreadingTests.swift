import XCTest
import Dispatch
import Kernels
import KernelChecks
@testable import Engine

final class ThreadingTests: XCTestCase {
    func testChunksCoverEveryItemOnce() {
        for count in [0, 1, 2, 5, 17, 100] {
            for threads in 1...5 {
                var seen = [Int](repeating: 0, count: count)
                for t in 0..<threads { for i in ParallelFor.chunk(t, of: threads, count: count) { seen[i] += 1 } }
                XCTAssertEqual(seen, [Int](repeating: 1, count: count), "count \(count) threads \(threads)")
            }
        }
    }

    func testParallelForRunsEveryItem() {
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            ParallelFor.run(count: 1000, threads: 4) { items, _ in for i in items { h[i] += 1 } }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
    }

    /// The worker team gives thread `t` exactly `ParallelFor.chunk(t, ...)`, for many jobs in a row (the workers
    /// spin between them) and for thread counts above the cores (the workers then sleep instead).
    /// A thread count past `ParallelFor.maxThreads` runs as that many (`--threads 100000` started a worker per thread
    /// and hung); the executor plans its per-thread scratch for the count it runs.
    func testExecutorsRunAtMostMaxThreads() throws {
        let b = GraphBuilder(seed: 1)
        b.output("y", b.conv(b.input("x", channels: 1), 2, kernel: 3, name: "c"))
        XCTAssertEqual(try Executor(b.graph, threads: 100_000).threads, ParallelFor.maxThreads)
        XCTAssertEqual(try Executor(b.graph, threads: 0).threads, 1)
        XCTAssertEqual(try Executor(b.graph, threads: 3).threads, 3)
    }

    func testWorkerTeamRunsEachChunkOnceWithItsThreadIndex() {
        for threads in [2, 3, 2, 5, 1, 4] {
            for round in 0..<200 {
                let count = 1 + (round * 7919) % 97
                var owner = [Int](repeating: -1, count: count)
                owner.withUnsafeMutableBufferPointer { o in
                    ParallelFor.run(count: count, threads: threads) { items, t in
                        for i in items { o[i] = o[i] == -1 ? t : -2 }
                    }
                }
                let n = min(threads, count)
                let expected = (0..<count).map { i in (0..<n).first { ParallelFor.chunk($0, of: n, count: count).contains(i) }! }
                XCTAssertEqual(owner, expected, "threads \(threads) count \(count)")
            }
        }
    }

    /// A loop inside a loop, and loops started from several threads at once, run every item once: one of
    /// them gets the team, the others run their chunks inline.
    func testNestedAndConcurrentLoopsRunEveryItemOnce() {
        let outer = 6, inner = 50
        var hits = [Int](repeating: 0, count: outer * inner)
        hits.withUnsafeMutableBufferPointer { h in
            ParallelFor.run(count: outer, threads: 2) { rows, _ in
                for r in rows {
                    ParallelFor.run(count: inner, threads: 2) { items, _ in for i in items { h[r * inner + i] += 1 } }
                }
            }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: outer * inner))

        let callers = 4, items = 300
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: callers * items)
        counts.initialize(repeating: 0, count: callers * items)
        defer { counts.deallocate() }
        let base = UInt(bitPattern: counts)
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            let counts = UnsafeMutablePointer<Int>(bitPattern: base)!
            for _ in 0..<50 {
                ParallelFor.run(count: items, threads: 2) { range, _ in for i in range { counts[c * items + i] += 1 } }
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: callers * items)), [Int](repeating: 50, count: callers * items))
    }

    /// Between jobs the workers spin for `WorkerTeam.spinSeconds`, then sleep: an idle process burns no core.
    func testIdleWorkersSleep() {
        func cpuSeconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        var sink = [Int](repeating: 0, count: 64)
        sink.withUnsafeMutableBufferPointer { s in ParallelFor.run(count: 64, threads: 2) { items, _ in for i in items { s[i] = i } } }
        usleep(20_000)  // past the spin
        let before = cpuSeconds()
        usleep(200_000)
        let used = cpuSeconds() - before
        XCTAssertLessThan(used, 0.05, "the process used \(used) s of CPU while idle for 0.2 s: a worker keeps spinning")
    }

    /// Every algorithm gives bitwise-identical output for 1, 2 and 3 threads, on shapes with partial tiles.
    func testConvolutionIsBitwiseIdenticalAcrossThreadCounts() throws {
        var rng = SplitMix64(seed: 0x3001)
        let geometries = [
            Conv2dGeometry(batch: 2, inChannels: 17, inHeight: 13, inWidth: 11, outChannels: 33, kernel: 3),
            Conv2dGeometry(batch: 1, inChannels: 32, inHeight: 9, inWidth: 20, outChannels: 16, kernel: 1),
            Conv2dGeometry(batch: 1, inChannels: 5, inHeight: 15, inWidth: 7, outChannels: 5, kernel: 5, stride: 2, groups: 5),
            Conv2dGeometry(batch: 1, inChannels: 48, inHeight: 31, inWidth: 29, outChannels: 48, kernel: 3),
        ]
        for g in geometries {
            let input = rng.floats(g.inputShape.elementCount)
            let weights = rng.floats(g.weightCount)
            let bias = rng.floats(g.outChannels)
            for algorithm in ConvAlgorithm.candidates(for: g) {
                var outputs: [[Float]] = []
                for threads in [1, 2, 3] {
                    let op = try Conv2dOperator(g, weights: weights, bias: bias, activation: .relu, algorithm: algorithm, threads: threads)
                    var out = poisoned(g.outputShape.elementCount)
                    out.withUnsafeMutableBufferPointer { op.run(input: input, output: $0.baseAddress!) }
                    outputs.append(out)
                }
                let bits = outputs.map { $0.map(\.bitPattern) }
                XCTAssertEqual(bits[0], bits[1], "\(algorithm) \(g): 1 vs 2 threads")
                XCTAssertEqual(bits[0], bits[2], "\(algorithm) \(g): 1 vs 3 threads")
                XCTAssertFalse(outputs[0].contains { $0.isNaN }, "\(algorithm) \(g) left elements unwritten")
            }
        }
    }
}
