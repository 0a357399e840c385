/// Splits touching objects: a seeded watershed on the distance transform, as instance-segmentation pipelines
/// do after a semantic U-Net. Within each connected component, the seeds are the local maxima of the distance
/// to the background (each object's centre; a maximum must be the largest value within `minimumDistance`
/// elements, and plateaus of maxima join into one seed), and every element of the component goes to the seed
/// whose flood reaches it first when flooding from the deepest distance down (a priority flood; ties in raster
/// order, so the result is deterministic).
public enum Watershed {
    public static func split(_ mask: [UInt8], size: [Int], connectivity: Connectivity = .full, minimumDistance: Int = 3,
                             minimumSize: Int = 1, spacing: [Double]? = nil) -> InstanceLabels {
        let distance = DistanceTransform.euclidean(mask, size: size, spacing: spacing)
        let components = ConnectedComponents.label(mask, size: size, connectivity: connectivity)
        let seeds = localMaxima(distance, components: components.labels, size: size, radius: max(1, minimumDistance), connectivity: connectivity)
        let flooded = flood(seeds, elevation: distance.map { -$0 }, mask: mask, size: size, connectivity: connectivity)
        return InstanceLabels.renumbering(flooded, size: size, minimumSize: minimumSize)
    }

    /// Grows `seeds` over the nonzero elements of `mask` (deepest in the mask first, by its distance transform),
    /// each element taking the label of the seed that reaches it; elements no seed reaches stay background.
    public static func grow(_ seeds: InstanceLabels, over mask: [UInt8], size: [Int], connectivity: Connectivity = .full,
                            minimumSize: Int = 1, spacing: [Double]? = nil) -> InstanceLabels {
        let distance = DistanceTransform.euclidean(mask, size: size, spacing: spacing)
        let flooded = flood(seeds, elevation: distance.map { -$0 }, mask: mask, size: size, connectivity: connectivity)
        return InstanceLabels.renumbering(flooded, size: size, minimumSize: minimumSize)
    }

    /// The seeds: connected plateaus of elements whose distance is the largest within `radius` (a cube) among the
    /// elements of their own component, so every component has at least one (its deepest element).
    static func localMaxima(_ d: [Double], components: [Int32], size: [Int], radius r: Int, connectivity: Connectivity) -> InstanceLabels {
        let (depth, h, w) = dims(size)
        var peak = [UInt8](repeating: 0, count: d.count)
        for z in 0..<depth {
            for y in 0..<h {
                for x in 0..<w {
                    let i = (z * h + y) * w + x
                    let own = components[i]
                    if own == 0 { continue }
                    var highest = true
                    search: for zz in max(0, z - r)...min(depth - 1, z + r) {
                        for yy in max(0, y - r)...min(h - 1, y + r) {
                            for xx in max(0, x - r)...min(w - 1, x + r) where components[(zz * h + yy) * w + xx] == own && d[(zz * h + yy) * w + xx] > d[i] {
                                highest = false
                                break search
                            }
                        }
                    }
                    if highest { peak[i] = 1 }
                }
            }
        }
        return ConnectedComponents.label(peak, size: size, connectivity: connectivity)
    }

    /// Grows the seeds over the mask in order of elevation (lowest first): an element takes the label of the
    /// labelled element that first reaches it (Meyer's priority flood), so a seam between two seeds goes to
    /// whichever flood arrives first, and ties leave in the order they were reached.
    static func flood(_ seeds: InstanceLabels, elevation: [Double], mask: [UInt8], size: [Int], connectivity: Connectivity) -> [Int32] {
        let (depth, h, w) = dims(size)
        var labels = seeds.labels
        var queue = FloodQueue()
        let offsets = neighbourOffsets(connectivity, rank: size.count)
        func reach(from i: Int) {
            let z = i / (h * w), y = (i / w) % h, x = i % w
            for (dz, dy, dx) in offsets {
                let zz = z + dz, yy = y + dy, xx = x + dx
                if zz < 0 || zz >= depth || yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                let j = (zz * h + yy) * w + xx
                if mask[j] == 0 || labels[j] != 0 { continue }
                labels[j] = labels[i]
                queue.push(j, priority: elevation[j])
            }
        }
        // The seeds first (collected before any is reached from, so a seed's neighbours do not act as seeds).
        let seedElements = labels.indices.filter { labels[$0] != 0 }
        for i in seedElements { reach(from: i) }
        while let i = queue.pop() { reach(from: i) }
        return labels
    }

    static func dims(_ size: [Int]) -> (Int, Int, Int) { size.count == 3 ? (size[0], size[1], size[2]) : (1, size[0], size[1]) }

    static func neighbourOffsets(_ connectivity: Connectivity, rank: Int) -> [(Int, Int, Int)] {
        var offsets: [(Int, Int, Int)] = []
        for dz in (rank == 3 ? -1 : 0)...(rank == 3 ? 1 : 0) {
            for dy in -1...1 {
                for dx in -1...1 {
                    let steps = abs(dz) + abs(dy) + abs(dx)
                    if steps > 0 && (connectivity == .full || steps == 1) { offsets.append((dz, dy, dx)) }
                }
            }
        }
        return offsets
    }
}

/// A binary min-heap of element indices by priority; equal priorities leave in the order they came
/// (a sequence number breaks ties), so floods are deterministic.
struct FloodQueue {
    private var heap: [(priority: Double, order: Int, index: Int)] = []
    private var pushed = 0

    mutating func push(_ index: Int, priority: Double) {
        heap.append((priority, pushed, index))
        pushed += 1
        var c = heap.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if less(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
        }
    }

    mutating func pop() -> Int? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == p { break }
                heap.swapAt(p, m)
                p = m
            }
        }
        return top.index
    }

    private func less(_ a: (priority: Double, order: Int, index: Int), _ b: (priority: Double, order: Int, index: Int)) -> Bool {
        a.priority < b.priority || (a.priority == b.priority && a.order < b.order)
    }
}
