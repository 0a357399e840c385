import Engine
import Kernels

/// Data-parallel training over several processes (`mpirun -np N segrun train ...`), as PyTorch's
/// DistributedDataParallel and Horovod define it, with sums in a fixed order so a run is reproducible:
///
/// - rank 0's initial weights are broadcast to every rank;
/// - each global batch (`--batch`) is split into N contiguous parts, one per rank, in rank order;
/// - the loss is the global batch's (`Loss.evaluate(across:)`: means, counts and batch Dice sums over every
///   rank's images), and BatchNorm normalizes with the global batch's statistics (synchronized BatchNorm);
/// - the parameter gradients are summed over ranks in rank order (`sumFloats`), so every rank applies the same
///   update to the same weights and the weights equal one process's with the same global batch, to rounding;
/// - a last batch with fewer images than ranks is skipped (each rank needs at least one image);
/// - only rank 0 writes checkpoints, logs, curves and overlays; every rank validates (the same weights give the
///   same scores, so every rank takes the same early-stopping decision).
///
/// The communication itself comes from above (segrun's `Cluster` module loads MPI at run time): Train sees
/// only these closures.
public struct DataParallel {
    public let rank: Int
    public let size: Int
    /// Element-wise sum over ranks, in rank order, the same on every rank.
    public let sumFloats: (inout [Float]) -> Void
    /// Element-wise sum over ranks of short Float64 vectors (statistics), in rank order.
    public let sumDoubles: (UnsafeMutableBufferPointer<Double>) -> Void
    /// Rank 0's values on every rank.
    public let broadcastFloats: (inout [Float]) -> Void

    public init(rank: Int, size: Int, sumFloats: @escaping (inout [Float]) -> Void,
                sumDoubles: @escaping (UnsafeMutableBufferPointer<Double>) -> Void, broadcastFloats: @escaping (inout [Float]) -> Void) {
        self.rank = rank
        self.size = size
        self.sumFloats = sumFloats
        self.sumDoubles = sumDoubles
        self.broadcastFloats = broadcastFloats
    }

    /// Rank 0, the one that writes.
    public var isMain: Bool { rank == 0 }

    /// This rank's part of a global batch: the contiguous positions `rank * n / size ..< (rank + 1) * n / size`.
    public func share<T>(_ batch: [T]) -> [T] {
        Array(batch[(rank * batch.count / size)..<((rank + 1) * batch.count / size)])
    }

    /// The loss's cross-process sum.
    var processSum: ProcessSum {
        let sum = sumDoubles
        return { values in values.withUnsafeMutableBufferPointer { sum($0) } }
    }
}
