/// The exact Euclidean distance transform (Felzenszwalb and Huttenlocher, 2012): for every nonzero element of a
/// mask, the distance to the nearest zero element of the grid, in units of `spacing` per axis; 0 on zeros.
/// Outside the grid counts as neither (as scipy's `distance_transform_edt`): a mask with no zero element gets
/// `Double.infinity` everywhere. One pass of the 1D lower envelope of parabolas per axis.
public enum DistanceTransform {
    public static func euclidean(_ mask: [UInt8], size: [Int], spacing: [Double]? = nil) -> [Double] {
        precondition(size.count == 2 || size.count == 3, "distance transform in 2D or 3D, got size \(size)")
        precondition(mask.count == size.reduce(1, *), "mask of \(mask.count) elements for size \(size)")
        let step = spacing ?? Array(repeating: 1, count: size.count)
        precondition(step.count == size.count && step.allSatisfy { $0 > 0 }, "spacing \(step) for size \(size)")
        // Squared distances; "infinite" as a large finite value so the envelope arithmetic stays finite.
        let far = 1e300
        var d = mask.map { $0 == 0 ? 0.0 : far }
        var strides = [Int](repeating: 1, count: size.count)
        for a in stride(from: size.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * size[a + 1] }
        for axis in 0..<size.count {
            let n = size[axis], s = strides[axis], w2 = step[axis] * step[axis]
            var line = [Double](repeating: 0, count: n), out = [Double](repeating: 0, count: n)
            var v = [Int](repeating: 0, count: n), z = [Double](repeating: 0, count: n + 1)
            // Every line along `axis`: start indices are all elements whose coordinate on `axis` is 0.
            for start in 0..<d.count where (start / s) % n == 0 {
                for i in 0..<n { line[i] = d[start + i * s] }
                lowerEnvelope(line, weight: w2, v: &v, z: &z, into: &out)
                for i in 0..<n { d[start + i * s] = out[i] }
            }
        }
        return d.map { $0 >= far / 2 ? Double.infinity : $0.squareRoot() }
    }

    /// out[q] = min over p of (q - p)^2 * weight + f[p]: the lower envelope of the parabolas rooted at each p.
    static func lowerEnvelope(_ f: [Double], weight: Double, v: inout [Int], z: inout [Double], into out: inout [Double]) {
        let n = f.count
        func intersection(_ q: Int, _ p: Int) -> Double {
            ((f[q] + weight * Double(q * q)) - (f[p] + weight * Double(p * p))) / (2 * weight * Double(q - p))
        }
        var k = 0
        v[0] = 0
        z[0] = -Double.infinity
        z[1] = Double.infinity
        for q in stride(from: 1, to: n, by: 1) {
            var s = intersection(q, v[k])
            while s <= z[k] {
                k -= 1
                s = intersection(q, v[k])
            }
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = Double.infinity
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Double(q) { k += 1 }
            let p = v[k]
            out[q] = weight * Double((q - p) * (q - p)) + f[p]
        }
    }
}
