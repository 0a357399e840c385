// Compiled only into the baseline (x86-64-v1) copy of the kernels in the dispatching x86-64 segrun-edge:
// scripts/build-edge rewrites that copy's `addingProduct` calls to `addingFusedProduct`, defined here.
//
// Baseline x86-64 has no FMA instruction, so a SIMD `addingProduct` becomes one libm `fmaf` call per lane, with
// the shuffles around each call, inlined at every one of the kernels' ~1500 sites (about 50 KB of that copy).
// Here the lanes of each vector width go through one out-of-line loop of scalar `fmaf` instead: the same
// correctly rounded bits (so the portable path still gives segrun predict's bytes), in a fraction of the code,
// and hardly slower than before, since each lane was already a software `fmaf` call.
//
// (It cannot live in the Kernels sources: debug builds compile them file by file, and a helper in another file
// is then called unspecialized, through generic witnesses, in the innermost loops.)
extension SIMD where Scalar == Float {
    @inline(__always)
    func addingFusedProduct(_ a: Self, _ b: Self) -> Self { lanewiseFusedMultiplyAdd(self, a, b) }

    @inline(__always)
    func addingFusedProduct(_ a: Self, _ b: Scalar) -> Self { lanewiseFusedMultiplyAdd(self, a, Self(repeating: b)) }

    @inline(__always)
    func addingFusedProduct(_ a: Scalar, _ b: Self) -> Self { lanewiseFusedMultiplyAdd(self, Self(repeating: a), b) }
}

extension Float {
    @inline(__always)
    func addingFusedProduct(_ a: Float, _ b: Float) -> Float { addingProduct(a, b) }
}

/// `c + a * b` lane by lane through scalar fused multiply-adds.
@inline(never)
func lanewiseFusedMultiplyAdd<V: SIMD>(_ c: V, _ a: V, _ b: V) -> V where V.Scalar == Float {
    var r = c
    for i in 0..<V.scalarCount { r[i] = c[i].addingProduct(a[i], b[i]) }
    return r
}
