/// Loads and stores of SIMD vectors at float pointers, including partial vectors at the
/// end of a channel row (lanes past `count` are never read or written).
extension UnsafePointer where Pointee == Float {
    @inline(__always)
    func loadVector<V: SIMD>(_: V.Type = V.self) -> V where V.Scalar == Float {
        UnsafeRawPointer(self).loadUnaligned(as: V.self)
    }

    @inline(__always)
    func loadVector<V: SIMD>(_: V.Type = V.self, count: Int) -> V where V.Scalar == Float {
        if count >= V.scalarCount { return loadVector(V.self) }
        var v = V()
        for i in 0..<count { v[i] = self[i] }
        return v
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always)
    func loadVector<V: SIMD>(_: V.Type = V.self) -> V where V.Scalar == Float {
        UnsafeRawPointer(self).loadUnaligned(as: V.self)
    }

    @inline(__always)
    func loadVector<V: SIMD>(_: V.Type = V.self, count: Int) -> V where V.Scalar == Float {
        UnsafePointer(self).loadVector(V.self, count: count)
    }

    @inline(__always)
    func storeVector<V: SIMD>(_ v: V) where V.Scalar == Float {
        UnsafeMutableRawPointer(self).storeBytes(of: v, as: V.self)
    }

    @inline(__always)
    func storeVector<V: SIMD>(_ v: V, count: Int) where V.Scalar == Float {
        if count >= V.scalarCount { storeVector(v); return }
        for i in 0..<count { self[i] = v[i] }
    }
}

/// Rounds `value` up to a multiple of `multiple`.
@inline(__always)
public func roundUp(_ value: Int, toMultipleOf multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}

/// Vectors of type `V` stored unaligned at `base`, by index: a kernel's per-tile temporaries in its scratch memory.
/// (`withUnsafeTemporaryAllocation(of: V.self)` puts vectors wider than 16 bytes, and any allocation over 1 KiB, on
/// the heap: a `malloc` and `free` per call, which in a per-tile helper cost 5% of a layer.)
struct VectorSlots<V: SIMD> {
    let base: UnsafeMutableRawPointer

    @inline(__always)
    subscript(index: Int) -> V {
        get { base.loadUnaligned(fromByteOffset: index &* MemoryLayout<V>.stride, as: V.self) }
        nonmutating set { base.storeBytes(of: newValue, toByteOffset: index &* MemoryLayout<V>.stride, as: V.self) }
    }
}

/// Floats in a 64-byte cache line, the line size of the x86-64 and Arm cores segrun runs on: the step of a prefetch.
let cacheLineFloats = 16
