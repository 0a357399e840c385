#if arch(x86_64) && SEGRUN_VNNI_ZMM
import CInt8
#endif

/// Int8 convolutions with 1 to 4 output channels (segmentation heads: a 1x1 or 3x3 conv to one logit per class).
///
/// The GEMM tile computes 16 output columns whatever the layer has, so a one-channel head paid for 16. Here each
/// output pixel's receptive field is read one kernel row at a time (`kernelWidth * inChannels` contiguous bytes of
/// the NHWC input, in place where the row lies inside the image), widened 16 bytes at a time and multiplied with
/// the weights by `Q8Microkernel.madd` (`vpmaddwd` / `smull` + `addp`), one Int32 accumulator vector per output
/// channel, summed across lanes at the end. Kernel rows are padded to whole 16-byte groups with zero weights,
/// so the bytes read past a row's end add nothing. Same integer sums as the GEMM, so the same bits.
public final class Q8NarrowConv {
    public static let maxOutChannels = 4
    let geometry: Conv2dGeometry
    /// Bytes of one kernel row (`kernelWidth * inChannels`) and the row rounded up to 16.
    let run: Int
    let paddedRun: Int
    /// `[4 channels][kernelHeight][paddedRun]` Int16 weights; channels past `outChannels` and the row tails are 0.
    let weights: UnsafeMutablePointer<Int16>
    let inputZeroPoint: UInt8
    /// With AVX512-VNNI: the same weights as Int8 `[4 channels][kernelHeight][quadRun]`, each kernel row padded with
    /// zeros to whole 64-byte groups (`vpdpbusd zmm` multiplies a kernel row's raw bytes in place).
    let quadRun: Int
    let quadWeights: UnsafeMutablePointer<Int8>
    /// Whether `run` multiplies on `vpdpbusd zmm` (asked for, and an AVX512-VNNI build with unflipped bytes).
    let usesQuads: Bool

    public static func supports(_ g: Conv2dGeometry) -> Bool {
        g.groups == 1 && g.outChannels <= maxOutChannels && g.dilationX == 1
    }

    /// `weights`: OIHW int8 weights. `quads`: multiply with `vpdpbusd zmm` where the build has it (same sums).
    init(_ g: Conv2dGeometry, weights w: UnsafePointer<Int8>, inputZeroPoint: UInt8, quads: Bool) {
        geometry = g
        usesQuads = quads && Q8DotMicrokernel.hasPairTile && Q8DotMicrokernel.activationFlip == 0
        self.inputZeroPoint = inputZeroPoint
        let cin = g.inChannels, kh = g.kernelHeight, kw = g.kernelWidth
        run = kw * cin
        paddedRun = (run + 15) / 16 * 16
        let count = Q8NarrowConv.maxOutChannels * kh * paddedRun
        weights = .allocate(capacity: count)
        weights.initialize(repeating: 0, count: count)
        quadRun = (run + 63) / 64 * 64
        let quadCount = Q8NarrowConv.maxOutChannels * kh * quadRun
        quadWeights = .allocate(capacity: quadCount)
        quadWeights.initialize(repeating: 0, count: quadCount)
        for o in 0..<g.outChannels {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    for c in 0..<cin {
                        let value = w[((o * cin + c) * kh + ky) * kw + kx]
                        weights[(o * kh + ky) * paddedRun + kx * cin + c] = Int16(value)
                        quadWeights[(o * kh + ky) * quadRun + kx * cin + c] = value
                    }
                }
            }
        }
    }

    deinit {
        weights.deallocate()
        quadWeights.deallocate()
    }

    /// Scratch: one gathered kernel row (for rows at the image's left and right borders or its end) and one row of
    /// zero-point bytes (for rows above and below the image).
    var scratchBytes: Int {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        if usesQuads { return 2 * quadRun + 128 + Q8NarrowConv.group * Q8NarrowConv.maxOutChannels * 64 }
        #endif
        return 2 * paddedRun + 64
    }

    /// The Int32 sums (without offsets) of output pixels `pixels`, `outChannels` per pixel, to `sums`.
    @inline(__always)
    func run(input: UnsafePointer<UInt8>, pixels: Range<Int>, scratch: UnsafeMutableRawPointer, sums: UnsafeMutablePointer<Int32>) {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        if usesQuads {
            runQuads(input: input, pixels: pixels, scratch: scratch, sums: sums)
            return
        }
        #endif
        let g = geometry, cin = g.inChannels, cout = g.outChannels, kh = g.kernelHeight
        let gathered = scratch.assumingMemoryBound(to: UInt8.self)
        let zeroRow = gathered + paddedRun
        zeroRow.update(repeating: inputZeroPoint, count: paddedRun)
        let end = input + g.inHeight &* g.inWidth &* cin
        let chunks = paddedRun / 16
        do {
            var out = sums
            for p in pixels {
                let oy = p / g.outWidth, ox = p &- oy &* g.outWidth
                let ix0 = ox &* g.strideX &- g.padLeft
                let inside = ix0 >= 0 && ix0 &+ g.kernelWidth <= g.inWidth
                var a0 = SIMD8<Int32>(), a1 = SIMD8<Int32>(), a2 = SIMD8<Int32>(), a3 = SIMD8<Int32>()
                for ky in 0..<kh {
                    let row = kernelRow(input: input, iy: oy &* g.strideY &- g.padTop &+ ky &* g.dilationY, ix0: ix0, inside: inside,
                                        readBytes: paddedRun, end: end, gathered: gathered, zeroRow: zeroRow)
                    let w = weights + ky &* paddedRun
                    let channelStride = kh &* paddedRun
                    for chunk in 0..<chunks {
                        let x = Q8Lanes.widen(UnsafeRawPointer(row + chunk &* 16).loadUnaligned(as: SIMD16<UInt8>.self))
                        @inline(__always) func weight(_ o: Int) -> SIMD16<Int16> {
                            UnsafeRawPointer(w + (o &* channelStride &+ chunk &* 16)).loadUnaligned(as: SIMD16<Int16>.self)
                        }
                        a0 &+= Q8Microkernel.madd(x, weight(0))
                        if cout > 1 {
                            a1 &+= Q8Microkernel.madd(x, weight(1))
                            a2 &+= Q8Microkernel.madd(x, weight(2))
                            a3 &+= Q8Microkernel.madd(x, weight(3))
                        }
                    }
                }
                out[0] = a0.wrappedSum()
                if cout > 1 {
                    out[1] = a1.wrappedSum()
                    if cout > 2 { out[2] = a2.wrappedSum() }
                    if cout > 3 { out[3] = a3.wrappedSum() }
                }
                out += cout
            }
        }
    }

    /// Where kernel row `iy` of the window starting at column `ix0` can be read `readBytes` at a time: the zero-point
    /// row above or below the image, the input itself where the window lies inside the image horizontally
    /// (`inside`) and the read ends before `end`, else the row gathered into `gathered`.
    @inline(__always)
    func kernelRow(input: UnsafePointer<UInt8>, iy: Int, ix0: Int, inside: Bool, readBytes: Int, end: UnsafePointer<UInt8>,
                   gathered: UnsafeMutablePointer<UInt8>, zeroRow: UnsafeMutablePointer<UInt8>) -> UnsafePointer<UInt8> {
        let g = geometry
        if iy < 0 || iy >= g.inHeight { return UnsafePointer(zeroRow) }
        let start = input + (iy &* g.inWidth &+ ix0) &* g.inChannels
        if inside && start + readBytes <= end { return start }
        gatherRow(input: input, iy: iy, ix0: ix0, into: gathered)
        return UnsafePointer(gathered)
    }

    /// Kernel row `iy` of the window starting at column `ix0`, with the zero point outside the image, as bytes.
    func gatherRow(input: UnsafePointer<UInt8>, iy: Int, ix0: Int, into row: UnsafeMutablePointer<UInt8>) {
        let g = geometry, cin = g.inChannels
        for kx in 0..<g.kernelWidth {
            let ix = ix0 &+ kx
            if ix >= 0 && ix < g.inWidth {
                (row + kx &* cin).update(from: input + (iy &* g.inWidth &+ ix) &* cin, count: cin)
            } else {
                (row + kx &* cin).update(repeating: inputZeroPoint, count: cin)
            }
        }
    }
}
