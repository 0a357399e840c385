import Kernels

extension SlidingWindow {
    /// Weights of a window with these extents (any rank, the last axis fastest), strictly positive: the
    /// product over the axes of the tile weights' profile (Gaussian with sigma = 1/8 of the extent, as nnU-Net
    /// and MONAI's `sigma_scale=0.125`, floored at 1e-4 of the centre so the window's corners still count, as
    /// MONAI floors its map at its smallest non-zero value; a tent; or constant).
    public static func weights(extents: [Int], blending: TileBlending) -> [Float] {
        let count = extents.reduce(1, *)
        var out = [Float](repeating: 1, count: count)
        if blending == .constant { return out }
        let profiles = extents.map { n -> [Double] in
            (0..<n).map { i in
                switch blending {
                case .gaussian:
                    let d = (Double(i) - Double(n - 1) / 2) / (Double(n) / 8)
                    return LayerReference.exp64(-0.5 * d * d)
                case .linear: return Double(min(i + 1, n - i))
                case .constant: return 1
                }
            }
        }
        for k in 0..<count {
            var rest = k, w = 1.0
            for a in stride(from: extents.count - 1, through: 0, by: -1) {
                w *= profiles[a][rest % extents[a]]
                rest /= extents[a]
            }
            out[k] = blending == .gaussian ? max(Float(w), 1e-4) : Float(w)
        }
        return out
    }
}

/// Sliding windows over a volume for a 3D model.
public struct VolumeWindowing: Equatable {
    /// The window (D, H, W); each extent is rounded up to the model's multiple.
    public var window: [Int]
    /// Fraction of a window neighbouring windows share (0.5: a step of half the window, as nnU-Net and MONAI).
    public var overlap: Double
    public var blending: TileBlending
    /// Test-time augmentation: every window also runs mirrored along each subset of its axes (8 passes), the
    /// outputs mirrored back and averaged.
    public var mirror: Bool

    public init(window: [Int], overlap: Double = 0.5, blending: TileBlending = .gaussian, mirror: Bool = false) {
        self.window = window
        self.overlap = overlap
        self.blending = blending
        self.mirror = mirror
    }
}

extension Segmenter {
    /// The sliding windows `options` ask for over volumes: cubes of `options.tile`, else the model's training
    /// patch, else 64 per axis; `options.flips` mirrors each window along every subset of its axes.
    public func volumeWindowing(_ options: InferenceOptions) -> VolumeWindowing {
        let window = options.tile.map { [$0, $0, $0] } ?? model.inputPatch ?? [64, 64, 64]
        return VolumeWindowing(window: window, overlap: options.overlap, blending: options.blending, mirror: options.flips)
    }

    /// Class probabilities (1 x classes x D x H x W) of a normalized volume (1 x C x D x H x W) by sliding
    /// windows: each window's logits (averaged over deep-supervision heads and, with `windowing.mirror`, over the
    /// mirrored passes), weighted by `windowing.blending`, accumulate in one float buffer per class beside one
    /// for the weights; at the end they are divided by the weights and turned into probabilities in place, once
    /// per voxel instead of once per window covering it (8 times at overlap 0.5). The argmax of the blended
    /// logits, nnU-Net's and MONAI's. A volume smaller than the window along an axis is padded with zeros (the
    /// normalized mean) to it and cropped back. `progress(done, total)` after each window.
    public func volumeProbabilities(_ x: Tensor, windowing: VolumeWindowing,
                                    progress: (Int, Int) -> Void = { _, _ in }) throws(GraphError) -> Tensor {
        let s = x.shape
        guard let depth = s.depth, s.batch == 1 else { throw .shape(node: "input", "sliding windows over volumes take one volume (1 x C x D x H x W), got \(s)") }
        let size = [depth, s.height, s.width], multiple = model.inputMultiple
        let window = (0..<3).map { a in
            let w = min(max(1, windowing.window[min(a, windowing.window.count - 1)]), size[a])
            return (w + multiple - 1) / multiple * multiple
        }
        let weights = SlidingWindow.weights(extents: window, blending: windowing.blending)
        let starts = (0..<3).map { SlidingWindow.starts(size: max(size[$0], window[$0]), tile: window[$0], overlap: windowing.overlap) }
        let classes = model.classes, voxels = s.pixelsPerImage, windowVoxels = window.reduce(1, *), threads = executor.threads
        var sum = Tensor(zeros: TensorShape(batch: 1, channels: classes, depth: depth, height: s.height, width: s.width))
        var weightSum = [Float](repeating: 0, count: voxels)
        let total = starts[0].count * starts[1].count * starts[2].count
        var done = 0
        for z0 in starts[0] { for y0 in starts[1] { for x0 in starts[2] {
            let origin = [z0, y0, x0]
            let crop = VolumeWindowing.crop(x, origin: origin, extent: window)
            var logits = try meanLogits(crop)
            if windowing.mirror {
                for axes in 1..<8 {
                    let back = VolumeWindowing.mirror(try meanLogits(VolumeWindowing.mirror(crop, axes: axes)), axes: axes)
                    for i in 0..<logits.data.count { logits.data[i] += back.data[i] }
                }
                for i in 0..<logits.data.count { logits.data[i] *= 0.125 }
            }
            // Add the part of the window inside the volume, its z slices split over the threads (each voxel gets
            // its windows' terms in window order whatever the split).
            let slices = min(window[0], depth - z0)
            logits.data.withUnsafeBufferPointer { lp in sum.data.withUnsafeMutableBufferPointer { sp in
                weightSum.withUnsafeMutableBufferPointer { wp in weights.withUnsafeBufferPointer { gp in
                    let windowLogits = lp.baseAddress!, accumulated = sp.baseAddress!, weighed = wp.baseAddress!, gauss = gp.baseAddress!
                    ParallelFor.run(count: slices, threads: threads) { zs, _ in
                        for z in zs {
                            for y in 0..<window[1] where y0 + y < s.height {
                                let rowIn = (z * window[1] + y) * window[2], rowOut = ((z0 + z) * s.height + y0 + y) * s.width + x0
                                let width = min(window[2], s.width - x0)
                                for c in 0..<classes {
                                    VolumeWindowing.addWeighted(windowLogits + c * windowVoxels + rowIn, gauss + rowIn,
                                                                into: accumulated + c * voxels + rowOut, count: width)
                                }
                                VolumeWindowing.add(gauss + rowIn, into: weighed + rowOut, count: width)
                            }
                        }
                    }
                } }
            } }
            done += 1
            progress(done, total)
        } } }
        sum.data.withUnsafeMutableBufferPointer { sp in weightSum.withUnsafeBufferPointer { wp in
            let accumulated = sp.baseAddress!, weighed = wp.baseAddress!
            ParallelFor.run(count: classes * depth, threads: threads) { planes, _ in
                let plane = s.height * s.width
                for cz in planes {
                    let c = cz / depth, z = cz % depth
                    let row = accumulated + c * voxels + z * plane, w = weighed + z * plane
                    for v in 0..<plane { row[v] /= w[v] }
                }
            }
        } }
        TensorOps.applyProbabilities(&sum, multilabel: model.isMultilabel, threads: threads)
        return sum
    }
}

extension VolumeWindowing {
    /// `sum[k] += values[k] * weights[k]` (a product rounded, then a sum: the same bits on every ISA).
    @inline(__always)
    static func addWeighted(_ values: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, into sum: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k &+ 8 <= count {
            let v = UnsafeRawPointer(values + k).loadUnaligned(as: SIMD8<Float>.self)
            let w = UnsafeRawPointer(weights + k).loadUnaligned(as: SIMD8<Float>.self)
            let a = UnsafeRawPointer(sum + k).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(sum + k).storeBytes(of: a + v * w, as: SIMD8<Float>.self)
            k &+= 8
        }
        while k < count { sum[k] += values[k] * weights[k]; k &+= 1 }
    }

    /// `sum[k] += values[k]`.
    @inline(__always)
    static func add(_ values: UnsafePointer<Float>, into sum: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { sum[k] += values[k] }
    }

    /// The `extent` (D, H, W) block of a 1 x C x D x H x W tensor at `origin`, zeros outside it.
    public static func crop(_ x: Tensor, origin: [Int], extent: [Int]) -> Tensor {
        let s = x.shape, depth = s.depth ?? 1
        var out = Tensor(zeros: TensorShape(batch: 1, channels: s.channels, depth: extent[0], height: extent[1], width: extent[2]))
        let width = max(0, min(extent[2], s.width - origin[2]))
        if width == 0 { return out }
        for c in 0..<s.channels { for z in 0..<extent[0] where origin[0] + z < depth {
            for y in 0..<extent[1] where origin[1] + y < s.height {
                let src = ((c * depth + origin[0] + z) * s.height + origin[1] + y) * s.width + origin[2]
                let dst = ((c * extent[0] + z) * extent[1] + y) * extent[2]
                for k in 0..<width { out.data[dst + k] = x.data[src + k] }
            }
        } }
        return out
    }

    /// A 1 x C x D x H x W tensor mirrored along the axes whose bits are set in `axes` (1: W, 2: H, 4: D).
    public static func mirror(_ x: Tensor, axes: Int) -> Tensor {
        let s = x.shape, d = s.depth ?? 1, h = s.height, w = s.width
        var out = x
        for c in 0..<(s.batch * s.channels) { for z in 0..<d { for y in 0..<h {
            let sz = axes & 4 != 0 ? d - 1 - z : z, sy = axes & 2 != 0 ? h - 1 - y : y
            let src = ((c * d + sz) * h + sy) * w, dst = ((c * d + z) * h + y) * w
            for k in 0..<w { out.data[dst + k] = x.data[src + (axes & 1 != 0 ? w - 1 - k : k)] }
        } } }
        return out
    }
}
