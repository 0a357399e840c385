import Kernels

/// How the fp32 executor runs spatial operators on volumes with the 2D kernels: a volume is N x D x H x W x C
/// in memory, so depth slice z of image n is an H x W x C image at `(n * D + z) * H * W * C`. A 3D window
/// becomes, for each output slice, a sum (or max, or blend) over the input slices its depth taps reach, each
/// through the op's 2D kernel with that tap's in-plane weights. An anisotropic 1x3x3 window is one 2D
/// convolution per slice, at the 2D kernels' speed; true 3D kernels (Winograd over depth) are the 3D issue's.
enum VolumeSlices {
    /// The (tap, input slice) pairs of a depth axis that reach output slice `oz`, in tap order.
    static func taps(_ oz: Int, _ axis: SpatialWindow.Axis, inDepth: Int) -> [(tap: Int, slice: Int)] {
        var taps: [(tap: Int, slice: Int)] = []
        for kz in 0..<axis.kernel {
            let iz = oz * axis.stride - axis.padBegin + kz * axis.dilation
            if iz >= 0 && iz < inDepth { taps.append((kz, iz)) }
        }
        return taps
    }

    /// Depth slice `z` of image `n` of a volume of shape `s`.
    static func slice(_ base: UnsafeMutablePointer<Float>, _ s: TensorShape, image n: Int, depth z: Int) -> UnsafeMutablePointer<Float> {
        base + (n * (s.depth ?? 1) + z) * s.height * s.width * s.channels
    }

    /// Whether the threads should take whole output slices of a volume (each slice's 2D kernel run on one thread,
    /// `Conv2dOperator.runOnCallingThread`) instead of splitting every slice's kernel: when the slices divide evenly
    /// among them, or are many. A slice's 2D convolution is small (a 64x64 slice of 16 channels has three Winograd
    /// work items, which two threads split 2:1), and two hand-offs per slice add up; whole slices need neither.
    /// The bits are the same either way.
    static func threadsTakeSlices(slices: Int, threads: Int) -> Bool {
        threads > 1 && slices >= threads && (slices % threads == 0 || slices >= 8 * threads)
    }

    /// Floats of one depth slice of `s`, rounded up to whole cache lines (so workspace after it stays aligned).
    static func sliceFloats(_ s: TensorShape) -> Int { (s.height * s.width * s.channels + 15) / 16 * 16 }

    /// `dst[i] += src[i]`, split over `threads` in blocks of whole cache lines (each element's sum is the
    /// same for any split).
    static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int, threads: Int = 1) {
        let blocks = (count + 4095) / 4096
        ParallelFor.run(count: blocks, threads: threads) { items, _ in
            F32Elementwise.add(dst, src, output: dst, range: (items.lowerBound * 4096)..<min(count, items.upperBound * 4096))
        }
    }

    /// Copies the `channels` values of each pixel in `pixels` of `src` (zeros when nil) to `dst + p * stride`:
    /// one depth tap's slice into the channel-stacked input of a 3D convolution.
    static func interleave(_ src: UnsafePointer<Float>?, channels c: Int, into dst: UnsafeMutablePointer<Float>, stride: Int, pixels: Range<Int>) {
        F32Pad.copyPixels(src.map { $0 + pixels.lowerBound &* c }, channels: c, pixels: pixels.count, into: dst + pixels.lowerBound &* stride,
                          dstStride: stride)
    }

    /// `dst[i] = src[i] > dst[i] ? src[i] : dst[i]`, 16 lanes at a time.
    static func maximum(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 16 <= count {
            let a = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
            var b = UnsafeRawPointer(dst + i).loadUnaligned(as: SIMD16<Float>.self)
            b.replace(with: a, where: a .> b)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: b, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < count {
            if src[i] > dst[i] { dst[i] = src[i] }
            i &+= 1
        }
    }

    /// `x = activation(x + bias[c])` over `pixels` pixels of `channels` channels (no bias: activation only),
    /// split over `threads` by pixels.
    static func biasActivation(_ x: UnsafeMutablePointer<Float>, bias: [Float]?, channels: Int, pixels: Int, _ activation: FusedActivation,
                               threads: Int = 1) {
        if bias == nil && activation == .none { return }
        let ones = [Float](repeating: 1, count: channels), shift = bias ?? [Float](repeating: 0, count: channels)
        ones.withUnsafeBufferPointer { s in shift.withUnsafeBufferPointer { b in
            ParallelFor.run(count: pixels, threads: threads) { range, _ in
                F32Elementwise.channelAffine(x, scale: s.baseAddress!, shift: b.baseAddress!, channels: channels, output: x,
                                             pixels: range, activation: activation)
            }
        } }
    }

    /// The weights of depth tap `kz` of a kernel stored `[a][b][kd][kh][kw]`: `[a][b][kh][kw]`.
    static func tapWeights(_ w: [Float], outer: Int, depth kd: Int, planeTaps: Int, tap kz: Int) -> [Float] {
        var out = [Float](repeating: 0, count: outer * planeTaps)
        for o in 0..<outer {
            for t in 0..<planeTaps { out[o * planeTaps + t] = w[(o * kd + kz) * planeTaps + t] }
        }
        return out
    }
}
