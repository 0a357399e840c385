import XCTest
import Foundation
@testable import Cluster

final class ShardTests: XCTestCase {
    /// Every split of m inputs into n shards covers each input exactly once, in order, with shard sizes that
    /// differ by at most one.
    func testShardsCoverEveryInputOnce() throws {
        for m in [0, 1, 2, 5, 7, 10, 31, 100] {
            for n in [1, 2, 3, 4, 7, 8, 13] {
                let inputs = (0..<m).map { "scan_\($0).png" }
                var covered: [String] = []
                var sizes: [Int] = []
                for k in 1...n {
                    let share = try Shard(number: k, count: n, origin: "test").select(inputs)
                    covered += share
                    sizes.append(share.count)
                }
                XCTAssertEqual(covered, inputs, "m \(m), n \(n)")
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "m \(m), n \(n): \(sizes)")
            }
        }
    }

    func testParseIsOneBased() throws {
        XCTAssertEqual(try Shard.parse("2/4").range(of: 8), 2..<4)
        XCTAssertEqual(try Shard.parse("1/1").range(of: 3), 0..<3)
        for bad in ["0/4", "5/4", "2", "a/b", "2/0", "-1/3", "1/2/3", ""] {
            XCTAssertThrowsError(try Shard.parse(bad), bad)
        }
    }

    func testSlurmArrays() throws {
        // --array=0-3, --array=1-4 and --array=0-6:2 all make shards 1 to 4.
        for (ids, minimum, step) in [([0, 1, 2, 3], 0, 1), ([1, 2, 3, 4], 1, 1), ([0, 2, 4, 6], 0, 2)] {
            for (k, id) in ids.enumerated() {
                var env = ["SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "\(minimum)", "SLURM_ARRAY_TASK_COUNT": "4"]
                if step != 1 { env["SLURM_ARRAY_TASK_STEP"] = "\(step)" }
                let shard = try XCTUnwrap(Shard.resolve(option: nil, shards: nil, environment: env))
                XCTAssertEqual(shard.number, k + 1)
                XCTAssertEqual(shard.count, 4)
                XCTAssertTrue(shard.origin.hasPrefix("SLURM_ARRAY_TASK_ID=\(id)"), shard.origin)
            }
        }
        // An irregular list (--array=0,5,9) and a missing count are refused with the way out.
        let irregular = ["SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"]
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: nil, environment: irregular)) { error in
            XCTAssertTrue("\(error)".contains("--shard K/N"), "\(error)")
        }
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: nil, environment: ["SLURM_ARRAY_TASK_ID": "1"]))
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: nil, environment: ["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"]))
        // --shard wins over the environment.
        let explicit = try XCTUnwrap(Shard.resolve(option: "3/5", shards: nil, environment: irregular))
        XCTAssertEqual(explicit.number, 3)
        XCTAssertEqual(explicit.origin, "--shard 3/5")
    }

    func testKubernetesIndexedJobs() throws {
        let fromFlag = try XCTUnwrap(Shard.resolve(option: nil, shards: 4, environment: ["JOB_COMPLETION_INDEX": "0"]))
        XCTAssertEqual([fromFlag.number, fromFlag.count], [1, 4])
        let fromVariable = try XCTUnwrap(Shard.resolve(option: nil, shards: nil, environment: ["JOB_COMPLETION_INDEX": "3", "SEGRUN_SHARDS": "4"]))
        XCTAssertEqual([fromVariable.number, fromVariable.count], [4, 4])
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: nil, environment: ["JOB_COMPLETION_INDEX": "3"])) { error in
            XCTAssertTrue("\(error)".contains("--shards N"), "\(error)")
        }
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: 4, environment: ["JOB_COMPLETION_INDEX": "4"]))
        XCTAssertNil(try Shard.resolve(option: nil, shards: nil, environment: [:]))
        XCTAssertThrowsError(try Shard.resolve(option: nil, shards: 4, environment: [:]))
    }

    func testMergeCountsMissingAndDuplicatedShards() throws {
        func summary(_ k: Int, of n: Int, inputs: [String], failed: [String] = [], start: Double, seconds: Double) throws -> ShardSummary {
            var s = ShardSummary(shard: try Shard(number: k, count: n, origin: "test"), host: "node\(k)", started: Date(timeIntervalSince1970: start))
            s.inputs = inputs
            s.processed = inputs.filter { !failed.contains($0) }
            s.outputs = s.processed
            s.failures = failed.map { .init(input: $0, error: "\($0): not a PNG or JPEG file") }
            s.seconds = seconds
            return s
        }
        let a = try summary(1, of: 3, inputs: ["a", "b"], start: 100, seconds: 10)
        let b = try summary(3, of: 3, inputs: ["e", "f"], failed: ["f"], start: 102, seconds: 20)
        let partial = try ShardMerge(summaries: [b, a])
        XCTAssertEqual(partial.summaries.map(\.shard), [1, 3])
        XCTAssertEqual(partial.missing, [2])
        XCTAssertFalse(partial.isComplete)
        XCTAssertEqual(partial.processed, 3)
        XCTAssertEqual(partial.failures.map(\.input), ["f"])
        XCTAssertEqual(partial.wallSeconds, 22, accuracy: 1e-9)
        XCTAssertEqual(partial.processSeconds, 30, accuracy: 1e-9)

        let complete = try ShardMerge(summaries: [a, b, try summary(2, of: 3, inputs: ["c", "d"], start: 101, seconds: 5)])
        XCTAssertTrue(complete.isComplete)
        XCTAssertEqual(complete.inputs, 6)
        let json = try JSONSerialization.jsonObject(with: Data(complete.json.utf8)) as? [String: Any]
        XCTAssertEqual(json?["processed"] as? Int, 5)
        XCTAssertEqual(json?["failed"] as? Int, 1)
        XCTAssertEqual(json?["complete"] as? Bool, true)

        let overlapping = try ShardMerge(summaries: [a, try summary(2, of: 3, inputs: ["b", "c"], start: 101, seconds: 5), b])
        XCTAssertEqual(overlapping.duplicated, ["b"])
        XCTAssertThrowsError(try ShardMerge(summaries: [a, try summary(1, of: 4, inputs: ["a"], start: 0, seconds: 1)]))
        XCTAssertThrowsError(try ShardMerge(summaries: []))
    }

    /// A summary written and read back is the same; a corrupt one is refused with its path.
    func testSummaryRoundTrip() throws {
        let directory = NSTemporaryDirectory() + "/segrun-shard-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var s = ShardSummary(shard: try Shard.parse("2/5"), host: "h", started: Date(timeIntervalSince1970: 1_700_000_000.25))
        s.inputs = ["x \"quoted\".png", "y.nii.gz"]
        s.failures = [.init(input: "y.nii.gz", error: "y.nii.gz: truncated")]
        try s.write(toDirectory: directory)
        XCTAssertEqual(try ShardSummary.read(directory + "/shard-2-of-5.json"), s)
        try Data("{\"shard\": 1".utf8).write(to: URL(fileURLWithPath: directory + "/shard-1-of-5.json"))
        XCTAssertThrowsError(try ShardMerge.read(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("shard-1-of-5.json"), "\(error)")
        }
    }
}
