/// What the int8 GEMM-based layer plans (`Q8Conv2dPlan`, `Q8WinogradPlan`, `Q8ConvTransposePlan`) share:
/// work items of one image that threads split, per-thread scratch, an output stage, and column groups.
///
/// Work item `i` is pixel block `i / columnGroups` and column group `i % columnGroups`: a layer with few
/// pixel blocks can still spread over threads by splitting its output channels (results do not depend on it).
public protocol Q8LayerPlan: AnyObject {
    var stage: Q8OutputStage { get }
    var pixelBlocks: Int { get }
    var columnBlocks: Int { get }
    var columnGroups: Int { get set }
    /// Scratch bytes one thread needs.
    var scratchBytes: Int { get }
    /// Computes work items `items` of one image (`input` and `output` point at the image's first element).
    func run(input: UnsafePointer<UInt8>, output: UnsafeMutableRawPointer, items: Range<Int>, scratch: UnsafeMutableRawPointer)
}

extension Q8LayerPlan {
    public var workItems: Int { pixelBlocks * columnGroups }

    /// The column blocks of group `group`.
    @inline(__always)
    func blockRange(_ group: Int) -> Range<Int> {
        (group * columnBlocks / columnGroups)..<((group + 1) * columnBlocks / columnGroups)
    }

    /// Enough column groups that `threads` threads each get at least `itemsPerThread` work items (at most one
    /// group per block): threads take contiguous runs of items, so with few items the runs differ by a large
    /// fraction (11 pixel blocks on 2 threads: 6 and 5).
    public func splitColumns(forThreads threads: Int, itemsPerThread: Int = 4) {
        let wanted = itemsPerThread * threads
        let groups = threads <= 1 || pixelBlocks >= wanted ? 1 : (wanted + pixelBlocks - 1) / pixelBlocks
        columnGroups = max(1, min(groups, columnBlocks))
    }
}

/// The int8 layer plans that gather one Int16 A row per pixel into a block and multiply it by packed
/// weights (`Q8Conv2dPlan`, `Q8ConvTransposePlan`): their blocking follows from the weights.
public protocol Q8GemmLayerPlan: Q8LayerPlan {
    var weights: Q8PackedWeights { get }
    /// Pixels of one image (GEMM rows).
    var pixels: Int { get }
    /// Pixels per work block (`weights.gemmBlockPixels`).
    var blockPixels: Int { get }
}

extension Q8GemmLayerPlan {
    public var columnBlocks: Int { weights.columnBlocks }
    public var pixelBlocks: Int { (pixels + blockPixels - 1) / blockPixels }
    /// Scratch bytes one thread needs: the block's gathered Int16 rows.
    public var scratchBytes: Int { weights.gatheredRowBytes(pixels: blockPixels) }
}
