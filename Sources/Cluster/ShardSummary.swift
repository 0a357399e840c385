import Foundation

/// What one shard of a batch prediction did, written as `DIR/shard-K-of-N.json` when it ends (atomically, so a
/// rerun or a second process given the same shard replaces it whole).
public struct ShardSummary: Codable, Equatable, Sendable {
    public struct Failure: Codable, Equatable, Sendable {
        public var input: String
        /// One line.
        public var error: String
        public init(input: String, error: String) { self.input = input; self.error = error }
    }

    public var shard: Int
    public var shards: Int
    /// How the shard was chosen (`--shard 2/4`, `SLURM_ARRAY_TASK_ID=1 (...)`, `JOB_COMPLETION_INDEX=1 (...)`).
    public var origin: String
    public var host: String
    /// Start, ISO 8601 UTC and seconds since 1970.
    public var started: String
    public var startedUnix: Double
    public var seconds: Double
    /// This shard's inputs, in order.
    public var inputs: [String]
    /// Inputs whose outputs this run wrote.
    public var processed: [String]
    /// Inputs whose outputs an earlier run had already written (resume).
    public var skipped: [String]
    /// Files written, relative to the output folder.
    public var outputs: [String]
    public var failures: [Failure]

    public init(shard: Shard, host: String, started: Date) {
        self.shard = shard.number
        self.shards = shard.count
        self.origin = shard.origin
        self.host = host
        self.started = ShardSummary.iso8601(started)
        self.startedUnix = started.timeIntervalSince1970
        self.seconds = 0
        self.inputs = []
        self.processed = []
        self.skipped = []
        self.outputs = []
        self.failures = []
    }

    enum CodingKeys: String, CodingKey {
        case shard, shards, origin, host, started, startedUnix = "started_unix", seconds, inputs, processed, skipped, outputs, failures
    }

    public var fileName: String { "shard-\(shard)-of-\(shards).json" }

    public func write(toDirectory directory: String) throws {
        try ShardSummary.encoder.encode(self).write(to: URL(fileURLWithPath: directory).appendingPathComponent(fileName), options: .atomic)
    }

    public static func read(_ path: String) throws -> ShardSummary {
        do { return try JSONDecoder().decode(ShardSummary.self, from: Data(contentsOf: URL(fileURLWithPath: path))) }
        catch { throw ClusterError("\(path): not a shard summary (\(error))") }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// The shard summaries of one output folder combined: `segrun predict --merge DIR`.
public struct ShardMerge: Sendable {
    public let shards: Int
    /// By shard number.
    public let summaries: [ShardSummary]
    /// Shard numbers with no summary yet (not run, still running, or killed before its end).
    public let missing: [Int]
    /// Inputs listed by more than one shard (the shards were given different input lists).
    public let duplicated: [String]

    public var inputs: Int { summaries.reduce(0) { $0 + $1.inputs.count } }
    public var processed: Int { summaries.reduce(0) { $0 + $1.processed.count } }
    public var skipped: Int { summaries.reduce(0) { $0 + $1.skipped.count } }
    public var outputs: Int { summaries.reduce(0) { $0 + $1.outputs.count } }
    public var failures: [ShardSummary.Failure] { summaries.flatMap(\.failures) }
    /// Sum of the shards' own times.
    public var processSeconds: Double { summaries.reduce(0) { $0 + $1.seconds } }
    /// From the first shard's start to the last shard's end.
    public var wallSeconds: Double {
        guard let first = summaries.map(\.startedUnix).min(),
              let last = summaries.map({ $0.startedUnix + $0.seconds }).max() else { return 0 }
        return last - first
    }
    /// Inputs processed per second of wall time, all shards together.
    public var throughput: Double { wallSeconds > 0 ? Double(processed) / wallSeconds : 0 }
    public var isComplete: Bool { missing.isEmpty && duplicated.isEmpty }

    public init(summaries unsorted: [ShardSummary]) throws(ClusterError) {
        guard let count = unsorted.first?.shards else { throw ClusterError("no shard summaries (shard-K-of-N.json) to merge") }
        if let other = unsorted.first(where: { $0.shards != count }) {
            throw ClusterError("the folder holds shards of \(count) and of \(other.shards): runs with different shard counts wrote into it; use a fresh folder per run")
        }
        var byNumber: [Int: ShardSummary] = [:]
        for s in unsorted {
            guard (1...count).contains(s.shard) else { throw ClusterError("shard \(s.shard) of \(count) does not exist") }
            byNumber[s.shard] = s
        }
        summaries = byNumber.keys.sorted().map { byNumber[$0]! }
        missing = (1...count).filter { byNumber[$0] == nil }
        var seen = Set<String>(), twice = Set<String>()
        for s in summaries { for input in s.inputs where !seen.insert(input).inserted { twice.insert(input) } }
        duplicated = twice.sorted()
        shards = count
    }

    /// Reads every `shard-K-of-N.json` in `directory`.
    public static func read(directory: String) throws -> ShardMerge {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) }
        catch { throw ClusterError("\(directory): cannot list the folder (\(error.localizedDescription))") }
        let summaryNames = names.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".json") && $0.contains("-of-") }.sorted()
        if summaryNames.isEmpty {
            throw ClusterError("\(directory): no shard summaries (shard-K-of-N.json); they are written by segrun predict --shard K/N or in a Slurm array or Kubernetes Indexed Job")
        }
        return try ShardMerge(summaries: summaryNames.map { try ShardSummary.read(directory + "/" + $0) })
    }

    /// `summary.json`: the merged counts, failures and times.
    struct Record: Encodable {
        let shards: Int, complete: Bool, missingShards: [Int], duplicatedInputs: [String]
        let inputs: Int, processed: Int, skipped: Int, outputs: Int, failed: Int, failures: [ShardSummary.Failure], hosts: [String]
        let wallSeconds: Double, processSeconds: Double, inputsPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case shards, complete, missingShards = "missing_shards", duplicatedInputs = "duplicated_inputs", inputs, processed, skipped,
                 outputs, failed, failures, hosts, wallSeconds = "wall_seconds", processSeconds = "process_seconds",
                 inputsPerSecond = "inputs_per_second"
        }
    }

    public var json: String {
        let record = Record(shards: shards, complete: isComplete, missingShards: missing, duplicatedInputs: duplicated, inputs: inputs,
                            processed: processed, skipped: skipped, outputs: outputs, failed: failures.count, failures: failures,
                            hosts: Set(summaries.map(\.host)).sorted(), wallSeconds: wallSeconds, processSeconds: processSeconds,
                            inputsPerSecond: throughput)
        return String(decoding: try! ShardSummary.encoder.encode(record), as: UTF8.self) + "\n"
    }

    public func write(toDirectory directory: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("summary.json"), options: .atomic)
    }
}
