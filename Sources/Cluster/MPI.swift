#if canImport(Glibc)
import Glibc

/// The MPI library of an `mpirun`, loaded at run time, so segrun builds and runs without MPI installed and
/// needs no MPI headers: `dlopen` of the library the launcher announces (Open MPI's `libmpi.so.40`, MPICH's
/// `libmpi.so.12` or `libmpich.so.12`; `SEGRUN_MPI_LIBRARY` names another), `dlsym` of the few functions used.
///
/// Handles: Open MPI's are addresses of its global objects (`&ompi_mpi_comm_world`, ...), MPICH's are 32-bit
/// constants; both are passed in an integer register (x86-64 System V and AArch64), so one declaration serves
/// both ABIs. Only Open MPI (Debian's 4.1) is tested here.
///
/// Every reduction is done in **rank order** on every rank (gather, then add rank 0's part, rank 1's, ...), so a
/// result never depends on timing or on the library's reduction algorithm, and a run is the same bits for a
/// given number of processes.
public final class MPICommunicator {
    public let rank: Int
    public let size: Int
    /// The library loaded, for the log.
    public let library: String

    private typealias Handle = Int
    private let comm: Handle, float: Handle, double: Handle
    private let bcast: @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    private let allgather: @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    private let alltoall: @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    private let finalize: @convention(c) () -> Int32
    private let abortJob: @convention(c) (Handle, Int32) -> Int32
    private var finalized = false

    /// Whether this process was started by an MPI launcher (`mpirun`, `srun --mpi=pmix`) with more than one rank.
    public static func launchedWithSeveralRanks(_ environment: [String: String]) -> Bool {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"] {
            if let v = environment[key], let n = Int(v), n > 1 { return true }
        }
        return false
    }

    /// Ranks on this machine (to share its cores), when the launcher says.
    public static func localSize(_ environment: [String: String]) -> Int? {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let v = environment[key], let n = Int(v), n >= 1 { return n }
        }
        return nil
    }

    /// Loads the library and calls `MPI_Init`; throws with the way out when the library cannot be found.
    public init(environment: [String: String]) throws(ClusterError) {
        let openMPI = environment["OMPI_COMM_WORLD_SIZE"] != nil
        var candidates = openMPI ? ["libmpi.so.40", "libmpi.so"] : ["libmpi.so.12", "libmpich.so.12", "libmpi.so.40", "libmpi.so"]
        if let named = environment["SEGRUN_MPI_LIBRARY"] { candidates = [named] }
        var handle: UnsafeMutableRawPointer? = nil, loaded = ""
        // RTLD_GLOBAL: Open MPI loads its components as plugins that resolve symbols of libmpi itself.
        for name in candidates {
            if let h = dlopen(name, RTLD_NOW | RTLD_GLOBAL) { handle = h; loaded = name; break }
        }
        guard let library = handle else {
            throw ClusterError("started under MPI but no MPI library loads (tried \(candidates.joined(separator: ", "))): install Open MPI (apt-get install openmpi-bin) or set SEGRUN_MPI_LIBRARY to the library's path")
        }
        func symbol(_ name: String) throws(ClusterError) -> UnsafeMutableRawPointer {
            guard let s = dlsym(library, name) else { throw ClusterError("\(loaded) has no \(name): not an MPI library segrun knows") }
            return s
        }
        func function<F>(_ name: String, as type: F.Type) throws(ClusterError) -> F { unsafeBitCast(try symbol(name), to: F.self) }
        let isOpenMPI = dlsym(library, "ompi_mpi_comm_world") != nil
        if isOpenMPI {
            comm = Int(bitPattern: try symbol("ompi_mpi_comm_world"))
            float = Int(bitPattern: try symbol("ompi_mpi_float"))
            double = Int(bitPattern: try symbol("ompi_mpi_double"))
        } else {
            // MPICH's (and its derivatives') fixed handles, from its mpi.h.
            comm = 0x4400_0000
            float = 0x4C00_040A
            double = 0x4C00_080B
        }
        let initialize = try function("MPI_Init", as: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32).self)
        let commRank = try function("MPI_Comm_rank", as: (@convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32).self)
        let commSize = try function("MPI_Comm_size", as: (@convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32).self)
        bcast = try function("MPI_Bcast", as: (@convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32).self)
        allgather = try function("MPI_Allgather", as: (@convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32).self)
        alltoall = try function("MPI_Alltoall", as: (@convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32).self)
        finalize = try function("MPI_Finalize", as: (@convention(c) () -> Int32).self)
        abortJob = try function("MPI_Abort", as: (@convention(c) (Handle, Int32) -> Int32).self)
        if initialize(nil, nil) != 0 { throw ClusterError("MPI_Init failed (\(loaded))") }
        var r: Int32 = 0, n: Int32 = 0
        if commRank(comm, &r) != 0 || commSize(comm, &n) != 0 { throw ClusterError("MPI_Comm_rank/MPI_Comm_size failed (\(loaded))") }
        rank = Int(r)
        size = Int(n)
        self.library = (isOpenMPI ? "Open MPI " : "MPICH ABI ") + loaded
    }

    deinit { finish() }

    /// `MPI_Finalize`, once (before the process exits; also on deinit).
    public func finish() {
        if !finalized { finalized = true; _ = finalize() }
    }

    /// Ends every rank of the job (`MPI_Abort`): what a rank does on an error the others may not share, which
    /// would otherwise leave them waiting in a collective forever.
    public func abort(code: Int32) -> Never {
        _ = abortJob(comm, code)
        exit(code)
    }

    private func check(_ code: Int32, _ what: String) {
        // MPI's default error handler aborts the job on failure; a non-zero code here means it was changed.
        precondition(code == 0, "\(what) failed with MPI error \(code)")
    }

    /// Rank 0's `values` on every rank.
    public func broadcast(_ values: inout [Float]) {
        let count = values.count
        values.withUnsafeMutableBytes { check(bcast($0.baseAddress, Int32(count), float, 0, comm), "MPI_Bcast") }
    }

    /// The element-wise sum over ranks, in rank order, on every rank: a reduce-scatter (`MPI_Alltoall` sends
    /// each rank its slice of every other rank's vector; it adds them in rank order) and an `MPI_Allgather` of
    /// the summed slices. Each rank sends and receives 2 (N-1)/N of the vector, as a ring allreduce does.
    public func sumInRankOrder(_ values: inout [Float]) {
        let n = size
        if n == 1 { return }
        let slice = (values.count + n - 1) / n
        var send = values
        send.append(contentsOf: repeatElement(0, count: slice * n - values.count))
        var received = [Float](repeating: 0, count: slice * n)
        send.withUnsafeBytes { s in received.withUnsafeMutableBytes { r in
            check(alltoall(s.baseAddress, Int32(slice), float, r.baseAddress, Int32(slice), float, comm), "MPI_Alltoall")
        } }
        var mine = [Float](repeating: 0, count: slice)
        received.withUnsafeBufferPointer { r in
            for j in 0..<slice { mine[j] = r[j] }
            for source in 1..<n { for j in 0..<slice { mine[j] += r[source * slice + j] } }
        }
        mine.withUnsafeBytes { m in send.withUnsafeMutableBytes { all in
            check(allgather(m.baseAddress, Int32(slice), float, all.baseAddress, Int32(slice), float, comm), "MPI_Allgather")
        } }
        for j in 0..<values.count { values[j] = send[j] }
    }

    /// The element-wise sum over ranks of a short vector (statistics, not gradients), in rank order, in Float64.
    public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) {
        let n = size, count = values.count
        if n == 1 || count == 0 { return }
        var all = [Double](repeating: 0, count: count * n)
        all.withUnsafeMutableBytes { a in
            check(allgather(values.baseAddress, Int32(count), double, a.baseAddress, Int32(count), double, comm), "MPI_Allgather")
        }
        for j in 0..<count {
            var s = all[j]
            for source in 1..<n { s += all[source * count + j] }
            values[j] = s
        }
    }
}
#endif
