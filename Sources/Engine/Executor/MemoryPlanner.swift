/// Places activation tensors in one arena so that tensors whose lifetimes overlap never share bytes,
/// and tensors that are never alive together reuse the same memory.
///
/// Greedy by size (as TFLite's arena planner does): the largest tensor is placed first, each at the
/// lowest offset that does not collide with an already-placed tensor alive at the same time.
public enum MemoryPlanner {
    public struct Request {
        /// Size in floats.
        public var size: Int
        /// First step at which the tensor is written.
        public var firstUse: Int
        /// Last step that reads it.
        public var lastUse: Int

        public init(size: Int, firstUse: Int, lastUse: Int) {
            self.size = size
            self.firstUse = firstUse
            self.lastUse = lastUse
        }
    }

    /// Offsets (in floats, multiples of 16 so every tensor is 64-byte aligned) and the arena size.
    public static func plan(_ requests: [Request]) -> (offsets: [Int], arenaFloats: Int) {
        let alignment = 16
        let order = Array(0..<requests.count).sorted {
            requests[$0].size != requests[$1].size ? requests[$0].size > requests[$1].size : $0 < $1
        }
        var offsets = [Int](repeating: -1, count: requests.count)
        var placed: [Int] = []
        var arena = 0
        for t in order {
            let r = requests[t]
            let size = (r.size + alignment - 1) / alignment * alignment
            var conflicts: [(Int, Int)] = []
            for p in placed where requests[p].firstUse <= r.lastUse && r.firstUse <= requests[p].lastUse {
                let ps = (requests[p].size + alignment - 1) / alignment * alignment
                conflicts.append((offsets[p], offsets[p] + ps))
            }
            conflicts.sort { $0.0 < $1.0 }
            var offset = 0
            for (start, end) in conflicts {
                if start >= offset + size { break }
                offset = max(offset, end)
            }
            offsets[t] = offset
            placed.append(t)
            arena = max(arena, offset + size)
        }
        return (offsets, arena)
    }

    /// The arena a planner without reuse would need (every tensor its own memory), for comparison.
    public static func naiveFloats(_ requests: [Request]) -> Int {
        requests.reduce(0) { $0 + ($1.size + 15) / 16 * 16 }
    }
}
