import Kernels

/// How training (and, on bytes, `Int8Volumes`) runs a 3D window through the 2D kernels: the depth taps become channels.
///
/// A depth axis (kernel `kd`, stride, padding, dilation) maps a "long" volume of `longDepth` slices to a
/// "short" one of `shortDepth` slices: short slice `z` reads long slices `z * stride - padBegin + k * dilation`
/// for `k < kd`. `stack` copies, for every short slice, those long slices side by side as `kd * channels`
/// channels (zeros where a tap falls in the padding), so the result is `batch * shortDepth` images that a 2D
/// kernel takes as a plain batch. `unstackAdd` is its adjoint: it adds each stacked slice's channel block back
/// into the long slice it came from.
///
/// A convolution's input is the long side (its output slices are the short side); a transposed convolution's
/// output is the long side, so its forward pass is `unstackAdd` of a 2D transposed convolution with `kd` times
/// the output channels, and its backward pass stacks dY. A depth window of kernel 1, stride 1 and no padding
/// is the identity: the volume already is `batch * depth` images, and nothing is copied.
struct DepthStacking {
    let batch: Int
    let longDepth: Int
    let shortDepth: Int
    /// Floats of one slice of the long volume (H * W * channels).
    let sliceFloats: Int
    let channels: Int
    let axis: SpatialWindow.Axis

    init(batch: Int, longDepth: Int, shortDepth: Int, height: Int, width: Int, channels: Int, axis: SpatialWindow.Axis) {
        self.batch = batch
        self.longDepth = longDepth
        self.shortDepth = shortDepth
        self.channels = channels
        self.axis = axis
        sliceFloats = height * width * channels
    }

    var taps: Int { axis.kernel }
    /// True when stacking would copy the volume unchanged.
    var isIdentity: Bool { axis.kernel == 1 && axis.stride == 1 && axis.padBegin == 0 && longDepth == shortDepth }
    /// Images of the stacked batch.
    var images: Int { batch * shortDepth }

    /// The long slice tap `k` of short slice `z` reads, or nil in the padding.
    func longSlice(_ z: Int, tap k: Int) -> Int? {
        let iz = z * axis.stride - axis.padBegin + k * axis.dilation
        return iz >= 0 && iz < longDepth ? iz : nil
    }

    /// Floats of one stacked image (`taps` long slices side by side).
    var stackedImageFloats: Int { sliceFloats * taps }

    /// `[batch * shortDepth][H][W][taps * channels]` from a long volume `[batch][longDepth][H][W][channels]`.
    func stack(_ long: [Float], threads: Int) -> [Float] {
        if isIdentity { return long }
        var out = Autograd.uninitialized(images * stackedImageFloats)
        long.withUnsafeBufferPointer { lp in out.withUnsafeMutableBufferPointer {
            stack(lp.baseAddress!, images: 0..<images, into: $0.baseAddress!, threads: threads)
        } }
        return out
    }

    /// Stacked images `images` (of `batch * shortDepth`) from the long volume, into `stacked` (`images.count`
    /// stacked images, every element written).
    func stack(_ long: UnsafePointer<Float>, images: Range<Int>, into stacked: UnsafeMutablePointer<Float>, threads: Int) {
        stack([Part(long, channels: channels)], images: images, into: stacked, threads: threads)
    }

    /// A run of the long volume's channels kept in an array of its own: an operand of a concatenation that is
    /// never materialized (`Autograd.concatenationOperands`). `normalize` recomputes a BatchNorm's output from its
    /// input on the way (`F32BatchNormTraining.normalize`, the forward's bits).
    struct Part {
        let volume: UnsafePointer<Float>
        let channels: Int
        let normalize: (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activation: FusedActivation)?

        init(_ volume: UnsafePointer<Float>, channels: Int,
             normalize: (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activation: FusedActivation)? = nil) {
            self.volume = volume
            self.channels = channels
            self.normalize = normalize
        }
    }

    /// `stack` of a long volume given as `parts` side by side along the channels (their channels add up to
    /// `channels`): the same bits as stacking their concatenation.
    func stack(_ parts: [Part], images: Range<Int>, into stacked: UnsafeMutablePointer<Float>, threads: Int) {
        let pixels = sliceFloats / channels, c = channels, kd = taps, first = images.lowerBound
        ParallelFor.run(count: images.count, threads: threads) { items, _ in
            for item in items {
                let m = first + item, n = m / shortDepth, z = m % shortDepth, base = stacked + item * stackedImageFloats
                for k in 0..<kd {
                    let slice = longSlice(z, tap: k).map { n * longDepth + $0 }
                    var offset = 0
                    for part in parts {
                        let dst = base + k * c + offset, cp = part.channels
                        if let slice, let (scale, shift, activation) = part.normalize {
                            F32BatchNormTraining.normalize(part.volume + slice * pixels * cp, channels: cp, scale: scale, shift: shift,
                                                           activation: activation, pixels: 0..<pixels, output: dst, outputStride: kd * c)
                        } else {
                            VolumeSlices.interleave(slice.map { part.volume + $0 * pixels * cp }, channels: cp, into: dst, stride: kd * c,
                                                    pixels: 0..<pixels)
                        }
                        offset += cp
                    }
                }
            }
        }
    }

    /// The adjoint of `stack`: a long volume whose slice `iz` is the sum of the channel blocks of the stacked
    /// slices that read it (zero where none does). Each long slice sums its blocks in tap order, so the bits do
    /// not depend on the thread count.
    func unstackAdd(_ stacked: [Float], threads: Int) -> [Float] {
        if isIdentity { return stacked }
        var out = [Float](repeating: 0, count: batch * longDepth * sliceFloats)
        stacked.withUnsafeBufferPointer { sp in out.withUnsafeMutableBufferPointer {
            unstackAdd(sp.baseAddress!, images: 0..<images, into: $0.baseAddress!, threads: threads)
        } }
        return out
    }

    /// Adds stacked images `images` (`stacked` holds `images.count` of them) into the long slices they read,
    /// in ascending stacked order: running consecutive ranges in order gives the bits of one `unstackAdd`.
    func unstackAdd(_ stacked: UnsafePointer<Float>, images: Range<Int>, into long: UnsafeMutablePointer<Float>, threads: Int) {
        unstackAdd(stacked, images: images, into: [(long, channels)], threads: threads)
    }

    /// `unstackAdd` into a long volume given as `parts` side by side along the channels (each its own array of
    /// `channels` channels a pixel): the same sums, in the same order, as into their concatenation.
    func unstackAdd(_ stacked: UnsafePointer<Float>, images: Range<Int>, into parts: [(volume: UnsafeMutablePointer<Float>, channels: Int)],
                    threads: Int) {
        let pixels = sliceFloats / channels, c = channels, kd = taps
        // The long slices (batch-major) these images reach, in order, so the threads split only those.
        var reached: [Int] = []
        for m in images {
            let n = m / shortDepth, z = m % shortDepth
            for k in 0..<kd { if let iz = longSlice(z, tap: k) { reached.append(n * longDepth + iz) } }
        }
        reached.sort()
        var unique: [Int] = []
        for item in reached where unique.last != item { unique.append(item) }
        unique.withUnsafeBufferPointer { targets in
            ParallelFor.run(count: targets.count, threads: threads) { range, _ in
                for t in range {
                    let item = targets[t], n = item / longDepth, iz = item % longDepth
                    let zLow = max(images.lowerBound - n * shortDepth, 0), zHigh = min(images.upperBound - n * shortDepth, shortDepth)
                    for z in zLow..<zHigh { for k in 0..<kd where longSlice(z, tap: k) == iz {
                        var block = stacked + (n * shortDepth + z - images.lowerBound) * stackedImageFloats + k * c
                        for (volume, cp) in parts {
                            let target = volume + item * pixels * cp
                            for p in 0..<pixels {
                                let s = block + p &* kd &* c, d = target + p &* cp
                                for q in 0..<cp { d[q] += s[q] }
                            }
                            block += cp
                        }
                    } }
                }
            }
        }
    }

    /// Stacked images per block when a 3D operator stacks its volume a block at a time: the largest divisor of
    /// `images` whose block holds at most `floats` floats (at least one image), so every block has the same size.
    func imagesPerBlock(floats: Int) -> Int {
        let limit = max(1, floats / max(1, stackedImageFloats))
        if limit >= images { return images }
        var best = 1
        for d in 1...limit where images % d == 0 { best = d }
        return best
    }

    /// Weights `[a][b][kd][planeTaps]` (a 3D kernel, depth taps after the channel axis `b`) as
    /// `[a][kd][b][planeTaps]`: the 2D kernel whose channel axis `b` is the stacked one (`kd * b`).
    static func stackedWeights<T: Numeric>(_ w: [T], outer a: Int, inner b: Int, depth kd: Int, planeTaps t: Int) -> [T] {
        var out = [T](repeating: 0, count: w.count)
        for i in 0..<a { for j in 0..<b { for k in 0..<kd { for p in 0..<t {
            out[((i * kd + k) * b + j) * t + p] = w[((i * b + j) * kd + k) * t + p]
        } } } }
        return out
    }

    /// The inverse of `stackedWeights` (for weight gradients).
    static func unstackedWeights(_ w: [Float], outer a: Int, inner b: Int, depth kd: Int, planeTaps t: Int) -> [Float] {
        var out = Autograd.uninitialized(w.count)
        for i in 0..<a { for j in 0..<b { for k in 0..<kd { for p in 0..<t {
            out[((i * b + j) * kd + k) * t + p] = w[((i * kd + k) * b + j) * t + p]
        } } } }
        return out
    }
}

/// A stacked 3D convolution's slices cut into equal blocks (`DepthStacking.imagesPerBlock`), so training holds
/// one block of the stacked volume at a time: `geometry` is the 2D convolution of one block.
struct StackedBlocks {
    let geometry: Conv2dGeometry
    let ranges: [Range<Int>]
    /// Floats of one block's stacked input.
    let stackedFloats: Int

    init(_ g: Conv2dGeometry, _ stacking: DepthStacking, floats: Int) {
        let per = stacking.imagesPerBlock(floats: floats)
        var block = g
        block.batch = per
        geometry = block
        ranges = stride(from: 0, to: g.batch, by: per).map { $0..<($0 + per) }
        stackedFloats = per * stacking.stackedImageFloats
    }
}
