#if arch(x86_64) && SEGRUN_VNNI_ZMM
import CInt8

extension Q8NarrowConv {
    /// Output pixels per group of `runQuads`: one Int32 lane each after the fold.
    static let group = 16

    /// The AVX512-VNNI form of `run`: each kernel row's raw bytes (64 at a time, in place where the row lies inside
    /// the image) go through `vpdpbusd zmm` against the row's Int8 weights (zero past the row, so the bytes read
    /// beyond it add nothing), one 16-lane accumulator per pixel and channel. Sixteen pixels' accumulators are then
    /// folded into one vector of their 16 sums (`foldSums`), so the sum across lanes costs about 3 instructions a
    /// pixel instead of a reduction each. Same integer sums as `run`'s other path, so the same bits.
    func runQuads(input: UnsafePointer<UInt8>, pixels: Range<Int>, scratch: UnsafeMutableRawPointer, sums: UnsafeMutablePointer<Int32>) {
        let g = geometry, cin = g.inChannels, cout = g.outChannels, kh = g.kernelHeight
        let gathered = scratch.assumingMemoryBound(to: UInt8.self)
        let zeroRow = gathered + quadRun
        zeroRow.update(repeating: inputZeroPoint, count: quadRun)
        // 64-byte aligned, after the two rows and their slack (`scratchBytes` has room for the rounding).
        let address = (Int(bitPattern: scratch + (2 &* quadRun &+ 64)) &+ 63) & ~63
        let accumulators = UnsafeMutableRawPointer(bitPattern: address)!.bindMemory(to: SIMD16<Int32>.self, capacity: Q8NarrowConv.group * cout)
        let end = input + g.inHeight &* g.inWidth &* cin
        let chunks = quadRun / 64, channelStride = kh &* quadRun
        let lastRow = (kh &- 1) &* g.dilationY, rowStep = g.dilationY &* g.inWidth &* cin, lastRowOffset = lastRow &* g.inWidth &* cin
        /// One kernel row's products for every channel.
        @inline(__always) func multiplyRow(_ row: UnsafePointer<UInt8>, ky: Int, _ a0: inout SIMD16<Int32>, _ a1: inout SIMD16<Int32>,
                                           _ a2: inout SIMD16<Int32>, _ a3: inout SIMD16<Int32>) {
            let w = UnsafeRawPointer(quadWeights + ky &* quadRun)
            for chunk in 0..<chunks {
                let x = UnsafeRawPointer(row + chunk &* 64).loadUnaligned(as: SIMD64<Int8>.self)
                let at = chunk &* 64
                a0 = segrun_dpbusd_i8x64(a0, x, w.loadUnaligned(fromByteOffset: at, as: SIMD64<Int8>.self))
                if cout > 1 {
                    a1 = segrun_dpbusd_i8x64(a1, x, w.loadUnaligned(fromByteOffset: channelStride &+ at, as: SIMD64<Int8>.self))
                    a2 = segrun_dpbusd_i8x64(a2, x, w.loadUnaligned(fromByteOffset: 2 &* channelStride &+ at, as: SIMD64<Int8>.self))
                    a3 = segrun_dpbusd_i8x64(a3, x, w.loadUnaligned(fromByteOffset: 3 &* channelStride &+ at, as: SIMD64<Int8>.self))
                }
            }
        }
        var first = pixels.lowerBound
        while first < pixels.upperBound {
            let count = min(Q8NarrowConv.group, pixels.upperBound &- first)
            var oy = first / g.outWidth, ox = first &- oy &* g.outWidth
            if cout == 1 && chunks == 1 && count == Q8NarrowConv.group,
               let rowBase = interiorRun(input: input, oy: oy, ox: ox, end: end) {
                // Sixteen pixels of one output row whose windows lie inside the image: their sums stay in registers.
                UnsafeMutableRawPointer(sums + (first &- pixels.lowerBound))
                    .storeBytes(of: sixteenSums(rowBase, pixelStep: g.strideX &* cin, rowStep: rowStep), as: SIMD16<Int32>.self)
                first &+= count
                continue
            }
            for i in 0..<Q8NarrowConv.group {
                if i < count {
                    let ix0 = ox &* g.strideX &- g.padLeft, iyTop = oy &* g.strideY &- g.padTop
                    let inside = ix0 >= 0 && ix0 &+ g.kernelWidth <= g.inWidth
                    var a0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), a2 = SIMD16<Int32>(), a3 = SIMD16<Int32>()
                    let base = input + (iyTop &* g.inWidth &+ ix0) &* cin
                    if inside && iyTop >= 0 && iyTop &+ lastRow < g.inHeight && base + (lastRowOffset &+ quadRun) <= end {
                        // The whole window inside the image (and its last 64-byte group before the end): rows in place.
                        if cout == 1 && chunks == 1 {
                            var ky = 0
                            while ky < kh {
                                a0 = segrun_dpbusd_i8x64(a0, UnsafeRawPointer(base + ky &* rowStep).loadUnaligned(as: SIMD64<Int8>.self),
                                                         UnsafeRawPointer(quadWeights + ky &* quadRun).loadUnaligned(as: SIMD64<Int8>.self))
                                ky &+= 1
                            }
                        } else {
                            for ky in 0..<kh {
                                multiplyRow(base + ky &* rowStep, ky: ky, &a0, &a1, &a2, &a3)
                            }
                        }
                    } else {
                        for ky in 0..<kh {
                            let row = kernelRow(input: input, iy: iyTop &+ ky &* g.dilationY, ix0: ix0, inside: inside,
                                                readBytes: quadRun, end: end, gathered: gathered, zeroRow: zeroRow)
                            multiplyRow(row, ky: ky, &a0, &a1, &a2, &a3)
                        }
                    }
                    accumulators[i] = a0
                    if cout > 1 {
                        accumulators[Q8NarrowConv.group &+ i] = a1
                        if cout > 2 { accumulators[2 &* Q8NarrowConv.group &+ i] = a2 }
                        if cout > 3 { accumulators[3 &* Q8NarrowConv.group &+ i] = a3 }
                    }
                    ox &+= 1
                    if ox == g.outWidth { ox = 0; oy &+= 1 }
                } else {
                    // Lanes past the last pixel: zeros, folded and not stored.
                    for o in 0..<cout { accumulators[o &* Q8NarrowConv.group &+ i] = SIMD16<Int32>() }
                }
            }
            for o in 0..<cout {
                let folded = Q8NarrowConv.foldSums(accumulators + o &* Q8NarrowConv.group)
                if cout == 1 && count == Q8NarrowConv.group {
                    UnsafeMutableRawPointer(sums + (first &- pixels.lowerBound)).storeBytes(of: folded, as: SIMD16<Int32>.self)
                } else {
                    for i in 0..<count { sums[(first &- pixels.lowerBound &+ i) &* cout &+ o] = folded[i] }
                }
            }
            first &+= count
        }
    }

    /// Where the windows of output pixels `ox..<ox + 16` of row `oy` start, when all of them lie inside the image
    /// (every kernel row read in place, its 64-byte read ending before `end`); nil otherwise.
    @inline(__always)
    func interiorRun(input: UnsafePointer<UInt8>, oy: Int, ox: Int, end: UnsafePointer<UInt8>) -> UnsafePointer<UInt8>? {
        let g = geometry, cin = g.inChannels
        guard ox &+ Q8NarrowConv.group <= g.outWidth else { return nil }
        let ix0 = ox &* g.strideX &- g.padLeft, ixLast = (ox &+ Q8NarrowConv.group &- 1) &* g.strideX &- g.padLeft
        let iyTop = oy &* g.strideY &- g.padTop, lastRow = (g.kernelHeight &- 1) &* g.dilationY
        guard ix0 >= 0 && ixLast &+ g.kernelWidth <= g.inWidth && iyTop >= 0 && iyTop &+ lastRow < g.inHeight else { return nil }
        let base = input + (iyTop &* g.inWidth &+ ix0) &* cin
        let lastRead = base + (ixLast &- ix0) &* cin + lastRow &* g.inWidth &* cin + quadRun
        return lastRead <= end ? base : nil
    }

    /// The sums of one output channel for 16 pixels `pixelStep` bytes apart from `base` (kernel rows `rowStep` apart,
    /// each one 64-byte group of `vpdpbusd zmm`), folded as `foldSums` folds them, without leaving registers.
    @inline(__always)
    func sixteenSums(_ base: UnsafePointer<UInt8>, pixelStep: Int, rowStep: Int) -> SIMD16<Int32> {
        let kh = geometry.kernelHeight, w = UnsafeRawPointer(quadWeights)
        @inline(__always) func pixel(_ i: Int) -> SIMD16<Int32> {
            let window = UnsafeRawPointer(base + i &* pixelStep)
            var a = SIMD16<Int32>()
            var ky = 0
            while ky < kh {
                a = segrun_dpbusd_i8x64(a, window.loadUnaligned(fromByteOffset: ky &* rowStep, as: SIMD64<Int8>.self),
                                        w.loadUnaligned(fromByteOffset: ky &* quadRun, as: SIMD64<Int8>.self))
                ky &+= 1
            }
            return a
        }
        let fold = Q8NarrowConv.fold
        let f0 = fold(pixel(0), pixel(1)), f1 = fold(pixel(2), pixel(3)), f2 = fold(pixel(4), pixel(5)), f3 = fold(pixel(6), pixel(7))
        let f4 = fold(pixel(8), pixel(9)), f5 = fold(pixel(10), pixel(11)), f6 = fold(pixel(12), pixel(13)), f7 = fold(pixel(14), pixel(15))
        return fold(fold(fold(f0, f1), fold(f2, f3)), fold(fold(f4, f5), fold(f6, f7)))
    }

    /// One level of the fold: `x`'s and `y`'s even lanes (low and high half) plus their odd lanes.
    @inline(__always)
    static func fold(_ x: SIMD16<Int32>, _ y: SIMD16<Int32>) -> SIMD16<Int32> {
        SIMD16(lowHalf: x.evenHalf, highHalf: y.evenHalf) &+ SIMD16(lowHalf: x.oddHalf, highHalf: y.oddHalf)
    }

    /// Lane i of the result is the sum of `v[i]`'s 16 lanes. Four levels of one fold, each pairing vectors and adding
    /// their even lanes to their odd ones: 16 vectors of one pixel each, then 8 of two pixels (8 lanes each), 4 of
    /// four, 2 of eight, and one of sixteen, in order.
    @inline(__always)
    static func foldSums(_ v: UnsafeMutablePointer<SIMD16<Int32>>) -> SIMD16<Int32> {
        var n = 16
        while n > 1 {
            for j in 0..<(n / 2) { v[j] = fold(v[2 &* j], v[2 &* j &+ 1]) }
            n /= 2
        }
        return v[0]
    }
}
#endif
