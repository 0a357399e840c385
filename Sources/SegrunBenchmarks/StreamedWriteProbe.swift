import Kernels
import Engine

/// How fast this machine writes data that does not stay in its caches: streaming stores (`streamFill`, the stores of the
/// kernels that stream their output) over a buffer of `bytes`, each thread a contiguous share. A layer
/// whose output is large against its arithmetic cannot run faster than its output takes to write: the one-channel
/// first layer of `unet3d-s` at 64^3 writes 16 MiB for 0.23 GFLOP.
public enum StreamedWriteProbe {
    /// The buffer the probe writes: the first layer's output, 8-16 times the per-core L2 of the machines seen so far.
    public static let bytes = 16 << 20

    /// GB/s of streamed writes with `threads` threads: the median of 15 runs after a warm-up.
    public static func measure(threads: Int) -> Double {
        let floats = bytes / 4
        let buffer = AlignedBuffer(count: floats)
        let base = buffer.pointer
        let time = MonotonicClock.median(runs: 15, warmup: 2) {
            // Work items of 64 floats (four 64-byte lines), so every thread's share starts on a line.
            ParallelFor.run(count: floats / 64, threads: threads) { blocks, _ in
                streamFill(base + blocks.lowerBound * 64, count: blocks.count * 64, value: 1)
            }
        }
        return Double(bytes) / time / 1e9
    }
}
