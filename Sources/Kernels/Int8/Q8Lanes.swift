/// Lane conversions of the int8 kernels, written lane by lane: the compiler turns each into one vector
/// instruction (`vcvtdq2ps`, `vpmovzxbw`, `vpmovzxbd`, `vpmovdb` or a byte shuffle; their NEON twins on aarch64), where the
/// standard library's generic converting initializers (`SIMD8<Float>(_:)`, `init(truncatingIfNeeded:)`) stay
/// out-of-line calls that pass vectors through memory. Same values as those initializers.
enum Q8Lanes {
    /// `SIMD8<Float>(v)`: each lane rounded to the nearest Float, as `Float(Int32)` does.
    @inline(__always)
    static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
    }

    /// Bytes zero-extended to Int16 lanes.
    @inline(__always)
    static func widen(_ v: SIMD16<UInt8>) -> SIMD16<Int16> {
        var r = SIMD16<Int16>()
        for i in 0..<16 { r[i] = Int16(v[i]) }
        return r
    }

    /// Signed bytes sign-extended to Int16 lanes.
    @inline(__always)
    static func widen(_ v: SIMD16<Int8>) -> SIMD16<Int16> {
        var r = SIMD16<Int16>()
        for i in 0..<16 { r[i] = Int16(v[i]) }
        return r
    }

    /// Bytes zero-extended to Int32 lanes.
    @inline(__always)
    static func widen(_ v: SIMD8<UInt8>) -> SIMD8<Int32> {
        var r = SIMD8<Int32>()
        for i in 0..<8 { r[i] = Int32(v[i]) }
        return r
    }

    /// The low byte of each lane (`SIMD8<UInt8>(truncatingIfNeeded:)`).
    @inline(__always)
    static func lowBytes(_ q: SIMD8<Int32>) -> SIMD8<UInt8> {
        var r = SIMD8<UInt8>()
        for i in 0..<8 { r[i] = UInt8(truncatingIfNeeded: q[i]) }
        return r
    }

    /// `SIMD16<Float>(v)`.
    @inline(__always)
    static func float(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for i in 0..<16 { r[i] = Float(v[i]) }
        return r
    }

    /// The low byte of each lane.
    @inline(__always)
    static func lowBytes(_ q: SIMD16<Int32>) -> SIMD16<UInt8> {
        // Two halves: one 16-lane loop came out as byte extracts and inserts.
        SIMD16<UInt8>(lowHalf: lowBytes(q.lowHalf), highHalf: lowBytes(q.highHalf))
    }

    /// Lanewise maximum (`vpmaxub`): the stdlib's generic `pointwiseMax` stayed a call inside the pooling loop.
    @inline(__always)
    static func max(_ a: SIMD16<UInt8>, _ b: SIMD16<UInt8>) -> SIMD16<UInt8> {
        var r = SIMD16<UInt8>()
        for i in 0..<16 { r[i] = Swift.max(a[i], b[i]) }
        return r
    }
}
