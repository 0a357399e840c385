/// One process's share of a batch job: shard `number` (1-based) of `count`.
///
/// The inputs are split into `count` contiguous runs of as equal length as possible: shard k of n gets the
/// inputs at positions `(k-1)*m/n ..< k*m/n` of the sorted list of m inputs. Contiguous (not round-robin) so
/// that neighbouring slices of a 2.5D model and the files of one case stay in one process, and so that each
/// shard's outputs are a run of the sorted output names. Together the n shards cover every input exactly once.
public struct Shard: Equatable, Sendable {
    /// 1-based, as in `--shard 2/4` (the convention of GNU split's `-n K/N`, Jest and Playwright).
    public let number: Int
    public let count: Int
    /// Where the assignment came from, for the log: `--shard 2/4`, or the environment variables read.
    public let origin: String

    public init(number: Int, count: Int, origin: String) throws(ClusterError) {
        guard count >= 1 else { throw ClusterError("the shard count must be at least 1, got \(count)") }
        guard (1...count).contains(number) else { throw ClusterError("shard \(number) of \(count) does not exist: shards are numbered 1 to \(count)") }
        self.number = number
        self.count = count
        self.origin = origin
    }

    /// The positions of this shard's inputs among `total` sorted inputs.
    public func range(of total: Int) -> Range<Int> {
        (number - 1) * total / count ..< number * total / count
    }

    /// This shard's inputs among `inputs` (already sorted).
    public func select<T>(_ inputs: [T]) -> [T] {
        Array(inputs[range(of: inputs.count)])
    }

    /// `shard-K-of-N.json`: the name of this shard's summary in the output folder.
    public var summaryName: String { "shard-\(number)-of-\(count).json" }

    /// Parses `K/N` (1-based K).
    public static func parse(_ text: String) throws(ClusterError) -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw ClusterError("--shard takes K/N (for example 2/4: the second of four shards), got '\(text)'")
        }
        return try Shard(number: k, count: n, origin: "--shard \(text)")
    }

    /// The shard a process runs: `--shard K/N` when given, else the scheduler's environment.
    ///
    /// - Slurm job arrays: `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT` (and
    ///   `SLURM_ARRAY_TASK_STEP`), so `--array=0-7`, `--array=1-8` and `--array=0-14:2` all give shards 1 to 8.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` (0-based), with the count from `shards` (`--shards N`)
    ///   or `SEGRUN_SHARDS`, since Kubernetes does not tell a pod its job's completion count.
    ///
    /// Returns nil when neither applies (the whole input list). `--shard 1/1` turns the environment off.
    public static func resolve(option: String?, shards: Int?, environment: [String: String]) throws(ClusterError) -> Shard? {
        if let option {
            let shard = try parse(option)
            if let shards, shards != shard.count { throw ClusterError("--shard \(option) and --shards \(shards) disagree on the shard count") }
            return shard
        }
        func integer(_ name: String) throws(ClusterError) -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingWhitespace) else { throw ClusterError("\(name)='\(text)' is not an integer") }
            return value
        }
        if let id = try integer("SLURM_ARRAY_TASK_ID") {
            guard let count = try integer("SLURM_ARRAY_TASK_COUNT") else {
                throw ClusterError("SLURM_ARRAY_TASK_ID=\(id) is set but SLURM_ARRAY_TASK_COUNT is not (Slurm 17.11 or later sets both); give --shard K/N")
            }
            let minimum = try integer("SLURM_ARRAY_TASK_MIN") ?? 0
            let step = try integer("SLURM_ARRAY_TASK_STEP") ?? 1
            let offset = id - minimum
            guard step >= 1, offset >= 0, offset % step == 0, offset / step < count else {
                throw ClusterError("the Slurm array is not a regular range (SLURM_ARRAY_TASK_ID=\(id), _MIN=\(minimum), _STEP=\(step), _COUNT=\(count)): submit --array=A-B[:S], or give --shard K/N")
            }
            if let shards, shards != count { throw ClusterError("--shards \(shards) disagrees with SLURM_ARRAY_TASK_COUNT=\(count)") }
            let origin = "SLURM_ARRAY_TASK_ID=\(id) (SLURM_ARRAY_TASK_MIN=\(minimum), SLURM_ARRAY_TASK_COUNT=\(count)" + (step == 1 ? ")" : ", SLURM_ARRAY_TASK_STEP=\(step))")
            return try Shard(number: offset / step + 1, count: count, origin: origin)
        }
        if let index = try integer("JOB_COMPLETION_INDEX") {
            let fromEnvironment = try integer("SEGRUN_SHARDS")
            guard let count = shards ?? fromEnvironment else {
                throw ClusterError("JOB_COMPLETION_INDEX=\(index) is set but not the shard count: give --shards N or SEGRUN_SHARDS=N (the Job's completions; Kubernetes does not pass it to the pod)")
            }
            guard index >= 0, index < count else {
                throw ClusterError("JOB_COMPLETION_INDEX=\(index) is outside 0..<\(count) (the shard count from \(shards != nil ? "--shards" : "SEGRUN_SHARDS"))")
            }
            return try Shard(number: index + 1, count: count, origin: "JOB_COMPLETION_INDEX=\(index) (\(shards != nil ? "--shards" : "SEGRUN_SHARDS") \(count))")
        }
        if let shards { throw ClusterError("--shards \(shards) needs the shard's index: --shard K/N, a Slurm array task or JOB_COMPLETION_INDEX") }
        return nil
    }
}

public struct ClusterError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension String {
    var trimmingWhitespace: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return s
    }
}
