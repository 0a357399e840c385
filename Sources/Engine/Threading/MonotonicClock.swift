#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// Seconds from a monotonic clock, for measuring kernels (Embedded-compatible: libc only).
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median of `runs` timings of `body`, after `warmup` untimed runs.
    public static func median(runs: Int, warmup: Int = 1, _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = now()
            body()
            times.append(now() - start)
        }
        times.sort()
        return times[times.count / 2]
    }
}
