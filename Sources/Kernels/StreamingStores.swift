#if !SEGRUN_EDGE  // only the narrow Winograd kernel streams its output, and segrun-edge has no room for it
import CStreamStore

/// A vector of output channels stored past the caches (`CStreamStore`): `p` is aligned to the vector's size.
@inline(__always)
func stream<V: SIMD>(_ v: V, to p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    if V.scalarCount == 16 {
        segrun_stream_f32x16(p, unsafeBitCast(v, to: SIMD16<Float>.self))
    } else if V.scalarCount == 8 {
        segrun_stream_f32x8(p, unsafeBitCast(v, to: SIMD8<Float>.self))
    } else {
        p.storeVector(v)
    }
}

/// Fills `count` floats at `p` (64-byte aligned, `count` a multiple of 16) with `value` through the streaming stores
/// a kernel of this build uses (`CompiledISA.tileWidth` wide), then fences: how the benchmarks measure the rate at
/// which this machine writes data past its caches (`StreamedWriteProbe`).
@inline(never)
public func streamFill(_ p: UnsafeMutablePointer<Float>, count: Int, value: Float) {
    if CompiledISA.tileWidth == 16 {
        streamFill(SIMD16<Float>(repeating: value), p, count)
    } else {
        streamFill(SIMD8<Float>(repeating: value), p, count)
    }
    segrun_stream_fence()
}

@inline(__always)
func streamFill<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ count: Int) where V.Scalar == Float {
    var i = 0
    while i < count { stream(v, to: p + i); i &+= V.scalarCount }
}
#endif
