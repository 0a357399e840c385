import CStreamStore
import Kernels
import Engine

/// How fast this machine writes data that does not stay in its caches: streaming stores (`CStreamStore`, as the
/// kernels that stream their output use them) over a buffer of `bytes`, each thread a contiguous share. A layer
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
                write(base + blocks.lowerBound * 64, count: blocks.count * 64)
            }
        }
        return Double(bytes) / time / 1e9
    }

    /// Writes `count` floats (a multiple of 16) at `p` (64-byte aligned) with the widest streaming store of this build.
    @inline(never)
    static func write(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        if CompiledISA.tileWidth == 16 {
            let v = SIMD16<Float>(repeating: 1)
            while i < count { segrun_stream_f32x16(p + i, v); i &+= 16 }
        } else {
            let v = SIMD8<Float>(repeating: 1)
            while i < count { segrun_stream_f32x8(p + i, v); i &+= 8 }
        }
        segrun_stream_fence()
    }
}
