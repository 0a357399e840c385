import ImageIO

/// What `segrun plan` reports and training follows: the spacings and sizes of a dataset of volumes, and the
/// target spacing chosen from them as nnU-Net chooses it (the median per axis; where the data is strongly
/// anisotropic, more than 3x between the coarsest and finest median, the 10th percentile for the coarse axis).
public struct VolumePlan: Equatable {
    public var spacings: [[Double]]
    public var sizes: [[Int]]
    public var target: [Double]
    public var axis: SliceAxis
    public var imageInterpolation = ImageInterpolation.linear
    public var labelInterpolation = LabelInterpolation.nearest
    /// The orientation every case is turned to before resampling (the first case's), when known.
    public var orientation: VolumeOrientation?

    public init(spacings: [[Double]], sizes: [[Int]]) {
        self.spacings = spacings
        self.sizes = sizes
        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        var target = (0..<3).map { a in median(spacings.map { $0[a] }) }
        let coarse = target.indices.max { target[$0] < target[$1] }!
        if target[coarse] > 3 * (target.min() ?? 1) {
            let s = spacings.map { $0[coarse] }.sorted()
            target[coarse] = s[min(s.count - 1, Int(0.1 * Double(s.count - 1)))]
        }
        self.target = target
        axis = SliceAxis.coarsest(target)
    }

    /// The plan of cases with these grids (their headers): every case turned to the first one's orientation
    /// (`turns`, one per case), then spacings and sizes as above.
    public init(grids: [VolumeGrid]) {
        let orientation = grids.first.map { VolumeOrientation(affine: $0.affine) }
        let turns = grids.map { g in orientation.map { Reorientation(from: VolumeOrientation(affine: g.affine), to: $0) }! }
        self.init(spacings: zip(grids, turns).map { g, t in t.source.map { g.spacing[$0] } },
                  sizes: zip(grids, turns).map { g, t in t.size(g.size) })
        self.orientation = orientation
        self.turns = turns
    }

    /// Per case: how it is turned to the plan's orientation (empty for a plan made from spacings and sizes).
    public var turns: [Reorientation] = []

    /// Each case's size after resampling to the target.
    public var resampledSizes: [[Int]] { zip(sizes, spacings).map { VolumeResampling.size($0, spacing: $1, target: target) } }
}
