/// How a binary mask becomes instances: its connected components, or touching objects told apart by a seeded
/// watershed on the distance to the background (`Watershed`).
public enum InstanceSplit: Equatable, Sendable {
    case components
    /// Object centres closer than `minimumDistance` elements share one seed.
    case distance(minimumDistance: Int)
    /// The mask holds the classes of a boundary-aware model (0 background, 1 interior, 2 boundary): each
    /// connected interior is one instance, grown over the boundary elements next to it.
    case boundary

    /// The instances of `mask` (nonzero: foreground; for `boundary`, class ids) on a grid of `size`, dropping
    /// those under `minimumSize`. `spacing` (per axis of `size`, e.g. a volume's voxel size in mm) shapes the
    /// distance the watershed floods by; nil is 1 on every axis.
    public func instances(_ mask: [UInt8], size: [Int], connectivity: Connectivity, minimumSize: Int,
                          spacing: [Double]? = nil) -> InstanceLabels {
        switch self {
        case .components:
            return ConnectedComponents.label(mask, size: size, connectivity: connectivity, minimumSize: minimumSize)
        case .distance(let d):
            return Watershed.split(mask, size: size, connectivity: connectivity, minimumDistance: d, minimumSize: minimumSize,
                                   spacing: spacing)
        case .boundary:
            let seeds = ConnectedComponents.label(mask.map { $0 == 1 ? 1 : 0 }, size: size, connectivity: connectivity)
            return Watershed.grow(seeds, over: mask.map { $0 == 1 || $0 == 2 ? 1 : 0 }, size: size, connectivity: connectivity,
                                  minimumSize: minimumSize, spacing: spacing)
        }
    }
}
