import Foundation

/// The process's peak resident memory so far (the kernel's high-water mark, `getrusage` in KiB).
enum PeakMemory {
    static var bytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
