#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// The one parallel-for in segrun. Kernels are single-threaded; this splits their work items.
///
/// `run(count:threads:)` cuts `0..<count` into `min(threads, count)` contiguous chunks by fixed
/// arithmetic and runs one chunk per thread. Each work item is computed by exactly one thread with
/// the same arithmetic whatever the thread count, so results are bitwise identical for 1 and N threads.
/// The threads are one persistent team (`WorkerTeam`, pthreads), in normal and Embedded builds alike.
public enum ParallelFor {
    /// The number of online cores: the default thread count.
    public static var coreCount: Int {
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The most threads an executor runs: a larger request runs with this many (the results are the same bits for
    /// any count). `--threads 100000` started a worker per thread and hung; `segrun`'s commands refuse more,
    /// segrun-edge and the C API run this many.
    public static let maxThreads = 1024

    /// The chunk of `0..<count` that thread `index` of `threads` runs.
    @inline(__always)
    public static func chunk(_ index: Int, of threads: Int, count: Int) -> Range<Int> {
        (index * count / threads)..<((index + 1) * count / threads)
    }

    /// Runs `body(range)` for disjoint ranges covering `0..<count`, on up to `threads` threads.
    /// `body` also receives the thread's index, to select per-thread scratch memory.
    /// Runs `body` over ranges covering `0..<count` on `threads` threads: the `WorkSpreader` that kernels
    /// with several passes (weight packing, BatchNorm) take from their caller.
    public static func spread(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        run(count: count, threads: threads) { range, _ in body(range) }
    }

    public static func run(count: Int, threads: Int, _ body: (_ items: Range<Int>, _ thread: Int) -> Void) {
        let n = max(1, min(threads, count))
        if n == 1 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in WorkerTeam.shared.run(WorkerTeam.Job(body: body, count: count, threads: n)) }
    }
}
