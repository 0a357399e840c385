#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif
#if !hasFeature(Embedded)
import Dispatch
#endif

/// The one parallel-for in segrun. Kernels are single-threaded; this splits their work items.
///
/// `run(count:threads:)` cuts `0..<count` into `min(threads, count)` contiguous chunks by fixed
/// arithmetic and runs one chunk per thread. Each work item is computed by exactly one thread with
/// the same arithmetic whatever the thread count, so results are bitwise identical for 1 and N threads.
/// Normal builds use Dispatch's `concurrentPerform`; Embedded builds, which have no Dispatch, use pthreads.
public enum ParallelFor {
    /// The number of online cores: the default thread count.
    public static var coreCount: Int {
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

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
        #if hasFeature(Embedded)
        runOnPthreads(count: count, threads: n, body)
        #else
        DispatchQueue.concurrentPerform(iterations: n) { t in body(chunk(t, of: n, count: count), t) }
        #endif
    }

    #if hasFeature(Embedded)
    private struct Job {
        let body: (Range<Int>, Int) -> Void
        let count: Int
        let threads: Int
        let index: Int
    }

    private static func runOnPthreads(count: Int, threads: Int, _ body: (Range<Int>, Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var jobs: [Job] = []
            for t in 0..<threads { jobs.append(Job(body: body, count: count, threads: threads, index: t)) }
            jobs.withUnsafeMutableBufferPointer { jobs in
                var handles = [segrun_thread](repeating: segrun_thread(), count: threads)
                var started = [Bool](repeating: false, count: threads)
                for t in 1..<threads {
                    started[t] = segrun_thread_start(&handles[t], { raw in
                        let job = raw!.assumingMemoryBound(to: Job.self).pointee
                        job.body(ParallelFor.chunk(job.index, of: job.threads, count: job.count), job.index)
                        return nil
                    }, jobs.baseAddress! + t) == 0
                }
                let first = jobs[0]
                first.body(chunk(0, of: threads, count: count), 0)
                // A thread that could not be started has its chunk run here: same items, same arithmetic.
                for t in 1..<threads where !started[t] { jobs[t].body(chunk(t, of: threads, count: count), t) }
                for t in 1..<threads where started[t] { _ = segrun_thread_join(&handles[t]) }
            }
        }
    }
    #endif
}
