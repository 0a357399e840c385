#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// A mutex (pthreads, so it works in Embedded builds too) for the few process-wide caches: the
/// remembered algorithm choices, which executors on different threads (C API handles) may fill at once.
public final class ProcessLock {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
