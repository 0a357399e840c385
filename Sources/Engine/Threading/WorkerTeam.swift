#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif
import Synchronization

/// The threads behind `ParallelFor`: one persistent team of workers that spin between jobs.
///
/// A forward pass is hundreds of parallel loops (two or three per layer), most of them well under a
/// millisecond. Waking a sleeping thread for each (what `DispatchQueue.concurrentPerform` does) costs
/// 25-50 us on the virtual machines this project runs on, which at 2 threads is 10-20% of a 50 ms
/// network. Workers of this team instead spin on an epoch counter for `spinSeconds` after each job, so
/// the next layer's job starts them at the cost of a cache-line transfer; after that they sleep on a
/// condition variable, so an idle process does not burn its cores.
///
/// A job is `body(chunk, index)` for `index` in `0..<threads`: the caller runs chunk 0 and worker `index`
/// runs chunk `index`, with the chunks `ParallelFor.chunk` draws, so the arithmetic of each work item
/// does not depend on the thread count. One job runs at a time: a `run` that finds the team busy (a
/// nested loop, or a second thread of the process) runs its chunks one after another on its own thread,
/// the same items in the same order.
final class WorkerTeam: @unchecked Sendable {
    static let shared = WorkerTeam()

    /// How long a worker spins after a job before it sleeps.
    static let spinSeconds = 0.002

    /// One parallel loop: `body` over `count` items on `threads` threads. `body` must not outlive the
    /// loop (`ParallelFor.run` wraps a non-escaping closure); the team drops it before `run` returns.
    struct Job {
        let body: (Range<Int>, Int) -> Void
        let count: Int
        let threads: Int
    }

    /// The job's generation times `generationStep` plus its thread count, published (release) after the
    /// job is written; workers wait for it to change. One word, so a worker that sees a generation also
    /// sees whether it takes part in it.
    private let epoch = Atomic<Int>(0)
    private static let generationStep = 1 << 16
    /// Workers still running the current job's chunks.
    private let remaining = Atomic<Int>(0)
    /// Workers asleep (or about to sleep) on `wake`.
    private let sleepers = Atomic<Int>(0)
    /// Set while a job runs; a `run` that cannot take it runs its chunks inline.
    private let busy = Atomic<Bool>(false)
    /// Whether workers spin (false when there are more of them than cores).
    private let spinning = Atomic<Bool>(true)
    /// The current job; read by workers only between the epoch they observe and their decrement.
    private let current: UnsafeMutablePointer<Job?>
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    /// Started workers, indices 1...workerCount; changed only by the holder of `busy`.
    private var workerCount = 0

    private init() {
        current = .allocate(capacity: 1)
        current.initialize(to: nil)
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs `job.body(ParallelFor.chunk(t, of: job.threads, count: job.count), t)` for every `t` in
    /// `0..<job.threads`. One function for every loop of the program: the job arrives in a struct, not as a
    /// closure argument, so the optimizer does not copy this function into each caller (46 KB of segrun-edge).
    @inline(never)
    func run(_ job: Job) {
        let threads = job.threads, count = job.count
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for t in 0..<threads { job.body(ParallelFor.chunk(t, of: threads, count: count), t) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        startWorkers(upTo: min(threads - 1, WorkerTeam.generationStep - 2))
        // A worker that could not be started leaves its chunk to the caller.
        let helpers = min(threads - 1, workerCount)
        current.pointee = job
        remaining.store(helpers, ordering: .relaxed)
        let generation = epoch.load(ordering: .relaxed) / WorkerTeam.generationStep + 1
        epoch.store(generation * WorkerTeam.generationStep + helpers + 1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
        job.body(ParallelFor.chunk(0, of: threads, count: count), 0)
        for t in (helpers + 1)..<max(helpers + 1, threads) { job.body(ParallelFor.chunk(t, of: threads, count: count), t) }
        var polls = 0
        while remaining.load(ordering: .acquiring) != 0 {
            polls += 1
            if polls & 255 == 0 { sched_yield() }
        }
        current.pointee = nil
    }

    /// Starts workers until there are `wanted` (or thread creation fails).
    private func startWorkers(upTo wanted: Int) {
        while workerCount < wanted {
            let index = workerCount + 1
            let context = UnsafeMutablePointer<WorkerContext>.allocate(capacity: 1)
            // The epoch before this run's job: a worker that starts after the job is published still runs it.
            context.initialize(to: WorkerContext(team: self, index: index, epoch: epoch.load(ordering: .relaxed)))
            var thread = ThreadHandle()
            guard thread.start(context) else {
                context.deinitialize(count: 1)
                context.deallocate()
                return
            }
            workerCount = index
            spinning.store(workerCount < ParallelFor.coreCount, ordering: .relaxed)
        }
    }

    fileprivate func workerLoop(index: Int, epoch start: Int) {
        var seen = start
        while true {
            seen = waitForEpoch(after: seen)
            // Workers beyond the job's participants neither read the job nor report.
            guard index < seen % WorkerTeam.generationStep else { continue }
            perform(index: index)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    /// Runs this worker's chunk of the current job. Not inlined: the job's closure is released before
    /// the decrement that lets the caller return (and `withoutActuallyEscaping` check it).
    @inline(never)
    private func perform(index: Int) {
        if let job = current.pointee {
            job.body(ParallelFor.chunk(index, of: job.threads, count: job.count), index)
        }
    }

    /// Spins, then sleeps, until the epoch differs from `seen`; returns the new epoch.
    private func waitForEpoch(after seen: Int) -> Int {
        if spinning.load(ordering: .relaxed) {
            let deadline = MonotonicClock.now() + WorkerTeam.spinSeconds
            var polls = 0
            while true {
                let now = epoch.load(ordering: .acquiring)
                if now != seen { return now }
                polls += 1
                if polls & 1023 == 0 {
                    if MonotonicClock.now() > deadline { break }
                    sched_yield()
                }
            }
        }
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var now = epoch.load(ordering: .sequentiallyConsistent)
        while now == seen {
            pthread_cond_wait(wake, mutex)
            now = epoch.load(ordering: .sequentiallyConsistent)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return now
    }
}

private struct WorkerContext {
    let team: WorkerTeam
    let index: Int
    let epoch: Int
}

/// A detached thread running `WorkerTeam.workerLoop`. pthread_t is an integer in glibc and a pointer in
/// musl; SegrunLibc wraps it for the Embedded build.
private struct ThreadHandle {
    #if hasFeature(Embedded)
    var handle = segrun_thread()
    #else
    var handle = pthread_t()
    #endif

    mutating func start(_ context: UnsafeMutablePointer<WorkerContext>) -> Bool {
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
            let context = raw!.assumingMemoryBound(to: WorkerContext.self)
            let team = context.pointee.team, index = context.pointee.index, epoch = context.pointee.epoch
            team.workerLoop(index: index, epoch: epoch)
            return nil
        }
        #if hasFeature(Embedded)
        return segrun_thread_start(&handle, entry, context) == 0
        #else
        return pthread_create(&handle, nil, entry, context) == 0
        #endif
    }
}
