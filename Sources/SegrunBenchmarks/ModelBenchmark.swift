import Foundation
import Kernels
import Engine

/// One whole-model measurement: median latency of a forward pass at a fixed input, its effective
/// GFLOP/s (direct-convolution FLOPs over time), and planned versus measured peak memory.
public struct ModelMeasurement {
    public var model: String
    public var height: Int
    public var width: Int
    public var batch: Int
    public var threads: Int
    public var runs: Int
    public var medianSeconds: Double
    public var gflops: Double
    public var percentPeak: Double
    public var plannedPeakBytes: Int
    public var measuredPeakBytes: Int
    public var arenaBytes: Int
    public var unsharedActivationBytes: Int
    /// The algorithm chosen for each convolution, "name=algorithm".
    public var algorithms: [String]

    public var json: String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return "{" + [
            "\"model\": \(q(model))", "\"height\": \(height)", "\"width\": \(width)", "\"batch\": \(batch)",
            "\"threads\": \(threads)", "\"precision\": \"fp32\"", "\"runs\": \(runs)",
            String(format: "\"median_s\": %.6f", medianSeconds), String(format: "\"gflops\": %.2f", gflops),
            String(format: "\"percent_peak\": %.1f", percentPeak), "\"planned_peak_bytes\": \(plannedPeakBytes)",
            "\"measured_peak_bytes\": \(measuredPeakBytes)", "\"arena_bytes\": \(arenaBytes)",
            "\"unshared_activation_bytes\": \(unsharedActivationBytes)",
        ].joined(separator: ", ") + "}"
    }
}

public enum ModelBenchmark {
    /// Plans (including the measured algorithm choice), warms up, then times forward passes for at
    /// least `minSeconds` and at least 5 runs. Memory: resident set before planning versus the
    /// high-water mark during the timed runs (reset with /proc/self/clear_refs after planning).
    public static func run(_ model: Model, name: String, height: Int, width: Int, batch: Int, threads: Int,
                           peakGFLOPs: Double, minSeconds: Double) throws -> ModelMeasurement {
        let executor = try Executor(model: model, threads: threads)
        // A volume model gets a cube of side `height`.
        let shape = TensorShape(batch: batch, channels: model.inputChannels, depth: model.inputSpatialRank == 3 ? height : nil, height: height, width: width)
        try MemoryBudget.checkInputs([shape])
        var input = Tensor(zeros: shape)
        var state: UInt32 = 12345
        for i in 0..<input.data.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            input.data[i] = Float(state >> 8) / Float(1 << 24)
        }
        let before = ProcessMemory.residentBytes()
        let plan = try executor.plan([shape])
        _ = try executor.run(input)
        ProcessMemory.resetPeak()
        var times: [Double] = []
        let start = MonotonicClock.now()
        while times.count < 5 || (MonotonicClock.now() - start < minSeconds && times.count < 200) {
            let t0 = MonotonicClock.now()
            _ = try executor.run(input)
            times.append(MonotonicClock.now() - t0)
        }
        let peak = ProcessMemory.peakBytes()
        var profile: [(String, Double)] = []
        if ProcessInfo.processInfo.environment["SEGRUN_PROFILE"] != nil {
            var sums = [Double](repeating: 0, count: executor.graph.nodes.count)
            for _ in 0..<5 { for (i, t) in plan.executeTimed().enumerated() { sums[i] += t / 5 } }
            for (i, node) in executor.graph.nodes.enumerated() {
                var label = node.name + " " + node.op.kind + " " + plan.shapes[i].description
                if let c = plan.convolutionChoices.first(where: { $0.node == node.name }) { label += " " + c.algorithm.description }
                profile.append((label, sums[i]))
            }
            for (label, t) in profile.sorted(by: { $0.1 > $1.1 }) {
                FileHandle.standardError.write(String(format: "%8.3f ms  %@\n", t * 1e3, label).data(using: .utf8)!)
            }
        }
        times.sort()
        let median = times[times.count / 2]
        let gflops = plan.flops / median / 1e9
        return ModelMeasurement(model: name, height: height, width: width, batch: batch, threads: threads, runs: times.count,
                                medianSeconds: median, gflops: gflops, percentPeak: 100 * gflops / peakGFLOPs,
                                plannedPeakBytes: plan.plannedPeakBytes, measuredPeakBytes: max(0, peak - before),
                                arenaBytes: plan.arenaBytes, unsharedActivationBytes: plan.unsharedActivationBytes,
                                algorithms: plan.convolutionChoices.map { "\($0.node)=\($0.algorithm)" })
    }
}

/// Resident memory of this process, from /proc/self/status (Linux).
public enum ProcessMemory {
    static func status(_ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return (digits.first ?? 0) * 1024
        }
        return 0
    }

    public static func residentBytes() -> Int { status("VmRSS") }
    public static func peakBytes() -> Int { status("VmHWM") }

    /// Resets the high-water mark to the current resident size (Linux 4.0+: write 5 to clear_refs).
    public static func resetPeak() {
        if let f = fopen("/proc/self/clear_refs", "w") {
            fputs("5", f)
            fclose(f)
        }
    }
}
