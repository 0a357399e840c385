/// Which neighbours touch: the ones sharing a face (4 in 2D, 6 in 3D) or any corner too (8, 26).
public enum Connectivity: Equatable, Sendable {
    case face
    case full

    /// Parses 4, 8, 6 or 26 (the neighbour count) for `rank` dimensions.
    public init?(neighbours: Int, rank: Int) {
        if neighbours == 2 * rank { self = .face } else if neighbours == (rank == 3 ? 26 : 8) { self = .full } else { return nil }
    }
}

/// Instances as a label map: 0 is background, 1...count one instance each, on a grid of `size` ([H, W] or
/// [D, H, W]) in row-major order.
public struct InstanceLabels: Equatable, Sendable {
    public var labels: [Int32]
    public var count: Int
    public var size: [Int]

    public init(labels: [Int32], count: Int, size: [Int]) {
        self.labels = labels
        self.count = count
        self.size = size
    }

    /// Any ids (0 background) numbered 1...count in raster order of first appearance, dropping the ids of fewer
    /// than `minimumSize` elements (they become background).
    public static func renumbering(_ ids: [Int32], size: [Int], minimumSize: Int = 1) -> InstanceLabels {
        var area: [Int32: Int] = [:]
        for l in ids where l != 0 { area[l, default: 0] += 1 }
        var number: [Int32: Int32] = [:]
        var count: Int32 = 0
        var out = ids
        for i in 0..<out.count where out[i] != 0 {
            let l = out[i]
            if let n = number[l] { out[i] = n; continue }
            let n: Int32
            if area[l]! >= minimumSize { count += 1; n = count } else { n = 0 }
            number[l] = n
            out[i] = n
        }
        return InstanceLabels(labels: out, count: Int(count), size: size)
    }

    /// The pixel (voxel) count of each instance, index 0 unused.
    public var areas: [Int] {
        var a = [Int](repeating: 0, count: count + 1)
        for l in labels where l > 0 && Int(l) <= count { a[Int(l)] += 1 }
        return a
    }
}

/// Connected components of a binary mask in 2D or 3D.
public enum ConnectedComponents {
    /// Labels the connected regions of the nonzero elements of `mask` (on a grid of `size`: [H, W] or
    /// [D, H, W]), drops those of fewer than `minimumSize` elements, and numbers the rest 1...count in the
    /// raster order of their first element. Two passes with a union-find over provisional labels.
    public static func label(_ mask: [UInt8], size: [Int], connectivity: Connectivity = .full, minimumSize: Int = 1) -> InstanceLabels {
        precondition(size.count == 2 || size.count == 3, "connected components in 2D or 3D, got size \(size)")
        let (d, h, w) = size.count == 3 ? (size[0], size[1], size[2]) : (1, size[0], size[1])
        precondition(mask.count == d * h * w, "mask of \(mask.count) elements for size \(size)")
        let offsets = precedingOffsets(connectivity, rank: size.count)
        var labels = [Int32](repeating: 0, count: mask.count)
        var parent: [Int32] = [0]
        func find(_ x: Int32) -> Int32 {
            var x = x
            while parent[Int(x)] != x {
                parent[Int(x)] = parent[Int(parent[Int(x)])]
                x = parent[Int(x)]
            }
            return x
        }
        for z in 0..<d {
            for y in 0..<h {
                for x in 0..<w {
                    let i = (z * h + y) * w + x
                    if mask[i] == 0 { continue }
                    var mine: Int32 = 0
                    for (dz, dy, dx) in offsets {
                        let zz = z + dz, yy = y + dy, xx = x + dx
                        if zz < 0 || yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                        let other = labels[(zz * h + yy) * w + xx]
                        if other == 0 { continue }
                        if mine == 0 {
                            mine = find(other)
                        } else {
                            let a = find(mine), b = find(other)
                            if a != b { parent[Int(max(a, b))] = min(a, b); mine = min(a, b) }
                        }
                    }
                    if mine == 0 {
                        mine = Int32(parent.count)
                        parent.append(mine)
                    }
                    labels[i] = mine
                }
            }
        }
        // Resolve to roots, count, and renumber in raster order, dropping the small ones.
        var area = [Int](repeating: 0, count: parent.count)
        for i in 0..<labels.count where labels[i] != 0 {
            labels[i] = find(labels[i])
            area[Int(labels[i])] += 1
        }
        var final = [Int32](repeating: -1, count: parent.count)
        var count: Int32 = 0
        for i in 0..<labels.count where labels[i] != 0 {
            let root = Int(labels[i])
            if final[root] < 0 {
                if area[root] >= minimumSize { count += 1; final[root] = count } else { final[root] = 0 }
            }
            labels[i] = final[root]
        }
        return InstanceLabels(labels: labels, count: Int(count), size: size)
    }

    /// The neighbour offsets (dz, dy, dx) that come before an element in raster order.
    static func precedingOffsets(_ connectivity: Connectivity, rank: Int) -> [(Int, Int, Int)] {
        var offsets: [(Int, Int, Int)] = []
        for dz in (rank == 3 ? -1 : 0)...0 {
            for dy in -1...1 {
                for dx in -1...1 {
                    let before = dz < 0 || (dz == 0 && (dy < 0 || (dy == 0 && dx < 0)))
                    let steps = abs(dz) + abs(dy) + abs(dx)
                    if before && (connectivity == .full || steps == 1) { offsets.append((dz, dy, dx)) }
                }
            }
        }
        return offsets
    }
}

extension ConnectedComponents {
    /// nnU-Net's post-processing: per class id (nonzero) in `labels`, only its largest connected component stays
    /// (full connectivity: 8 in 2D, 26 in 3D); the rest become background (0). On a tie the first in raster order
    /// stays. `size` is [H, W] or [D, H, W].
    public static func keepingLargest(_ labels: [UInt8], size: [Int]) -> [UInt8] {
        var out = labels
        for id in Set(labels) where id != 0 {
            let components = label(labels.map { $0 == id ? 1 : 0 }, size: size, connectivity: .full)
            if components.count <= 1 { continue }
            let areas = components.areas
            var largest = 1
            for k in 2...components.count where areas[k] > areas[largest] { largest = k }
            for i in out.indices where components.labels[i] != 0 && Int(components.labels[i]) != largest { out[i] = 0 }
        }
        return out
    }
}
