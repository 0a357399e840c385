/// A constant the importer holds while it reads a graph: initializers, `Constant` nodes, and everything
/// PyTorch's exporter computes from them and from shapes (`Shape`, `Gather`, `Concat`, `Slice`, ...),
/// folded here so that only the network itself becomes segrun nodes. Values are Doubles, exact for the
/// integers of shapes and for float32 weights. `shapeSources` lists the segrun nodes whose shapes (at the
/// import size) a value was computed from, so that a Resize to "the size of that tensor" stays one.
struct ConstantTensor {
    var dims: [Int]
    var values: [Double]
    var isInteger: Bool
    var shapeSources: [Int] = []
    var fromShape: Bool { !shapeSources.isEmpty }

    init(dims: [Int], values: [Double], isInteger: Bool, shapeSources: [Int] = []) {
        self.dims = dims
        self.values = values
        self.isInteger = isInteger
        self.shapeSources = shapeSources
    }

    static func scalar(_ v: Double, isInteger: Bool) -> ConstantTensor { ConstantTensor(dims: [], values: [v], isInteger: isInteger) }

    static func vector(_ v: [Int], shapeSources: [Int] = []) -> ConstantTensor {
        ConstantTensor(dims: [v.count], values: v.map { Double($0) }, isInteger: true, shapeSources: shapeSources)
    }

    var count: Int { values.count }
    var rank: Int { dims.count }
    var ints: [Int] { values.map { Int($0) } }
    var floats: [Float] { values.map { Float($0) } }

    /// Row-major strides of `dims`.
    static func strides(_ dims: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }

    /// Numpy broadcasting of two shapes, or nil when they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out: [Int] = []
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if x != y && x != 1 && y != 1 { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// This tensor's values broadcast to `dims` (which `broadcast` accepted).
    func expanded(to target: [Int]) -> [Double] {
        if dims == target { return values }
        let count = target.reduce(1, *)
        let shifted = [Int](repeating: 1, count: target.count - dims.count) + dims
        let sourceStrides = ConstantTensor.strides(shifted)
        let targetStrides = ConstantTensor.strides(target)
        var out = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var rest = i, source = 0
            for axis in 0..<target.count {
                let coordinate = rest / targetStrides[axis]
                rest %= targetStrides[axis]
                if shifted[axis] != 1 { source += coordinate * sourceStrides[axis] }
            }
            out[i] = values[source]
        }
        return out
    }

    /// The elementwise combination of two constants under numpy broadcasting.
    static func combine(_ a: ConstantTensor, _ b: ConstantTensor, integer: Bool, _ f: (Double, Double) -> Double) -> ConstantTensor? {
        guard let dims = broadcast(a.dims, b.dims) else { return nil }
        let x = a.expanded(to: dims), y = b.expanded(to: dims)
        var values = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count { values[i] = f(x[i], y[i]) }
        return ConstantTensor(dims: dims, values: values, isInteger: integer, shapeSources: a.shapeSources + b.shapeSources)
    }

    /// The values along one channel axis when every other axis has size 1 (a per-channel vector of a
    /// tensor of rank `rank`, aligned to its trailing axes as broadcasting does), or nil.
    func perChannel(rank: Int, channels: Int) -> [Float]? {
        if dims.count > rank { return nil }
        let shifted = [Int](repeating: 1, count: rank - dims.count) + dims
        for (axis, d) in shifted.enumerated() where axis != 1 && d != 1 { return nil }
        if shifted.count > 1 && shifted[1] == channels { return floats }
        if count == 1 { return [Float](repeating: Float(values[0]), count: channels) }
        return nil
    }
}
