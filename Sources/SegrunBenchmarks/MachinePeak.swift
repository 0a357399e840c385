import Foundation
import Kernels
import Engine

/// What the benchmarks say about the machine they ran on.
public struct MachineInfo: Sendable {
    public let cpuModel: String
    public let compiledISA: String
    public let cores: Int
    /// CPU feature flags as /proc/cpuinfo names them (`flags` on x86, `Features` on aarch64).
    public let features: Set<String>

    public static func current() -> MachineInfo {
        let lines = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").split(separator: "\n")
        func value(_ key: String) -> Substring? {
            guard let line = lines.first(where: { $0.hasPrefix(key) }), let colon = line.firstIndex(of: ":") else { return nil }
            return line[line.index(after: colon)...]
        }
        let model = value("model name").map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let features = Set((value("flags") ?? value("Features") ?? "").split(separator: " ").map(String.init))
        return MachineInfo(cpuModel: model, compiledISA: CompiledISA.name, cores: ParallelFor.coreCount, features: features)
    }
}

/// The fp32 peak of this machine, measured by the FMA throughput probe (median of several runs).
public enum MachinePeak {
    /// GFLOP/s with `threads` threads each running the probe: the median of 7 runs of about 25 ms,
    /// cross-checked on one Xeon against a hand-written inline-assembly FMA loop (224-228 GFLOP/s both).
    public static func measure(threads: Int) -> Double {
        let iterations = 15_000_000
        var sink: Float = 0
        let time = MonotonicClock.median(runs: 7, warmup: 1) {
            ParallelFor.run(count: threads, threads: threads) { _, _ in
                let r = FMAProbe.run(iterations: iterations)
                if r == 42 { sink += 1 }
            }
        }
        if sink == 1 { print("") }
        return Double(threads) * Double(iterations) * FMAProbe.flopsPerIteration() / time / 1e9
    }

    /// Int8 GOP/s (2 ops per multiply-add) of the int8 microkernel's step, measured the same way: by `Q8DotProbe`
    /// where the dot-product path runs (VNNI, `sdot`), else by `Q8MaddProbe`.
    public static func measureInt8(threads: Int) -> Double {
        let iterations = 15_000_000
        let dot = Q8DotMicrokernel.isAvailable
        var sink: Int32 = 0
        let time = MonotonicClock.median(runs: 7, warmup: 1) {
            ParallelFor.run(count: threads, threads: threads) { _, _ in
                if (dot ? Q8DotProbe.run(iterations: iterations) : Q8MaddProbe.run(iterations: iterations)) == 42 { sink &+= 1 }
            }
        }
        if sink == 1 { print("") }
        let ops = dot ? Q8DotProbe.opsPerIteration() : Q8MaddProbe.opsPerIteration()
        return Double(threads) * Double(iterations) * ops / time / 1e9
    }

    /// What `measureInt8` measures on this machine, for table headers.
    public static var int8ProbeName: String {
        Q8DotMicrokernel.isAvailable ? "Q8DotProbe, " + Q8DotMicrokernel.instruction : "Q8MaddProbe, " + Q8Microkernel.instruction
    }
}
