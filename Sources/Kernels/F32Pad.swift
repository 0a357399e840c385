/// Zero padding of one NHWC image, so that convolution tiles never test bounds.
public enum F32Pad {
    /// Copies `src` (height x width x channels) into the middle of `dst`
    /// ((top+height+bottom) x (left+width+right) x dstChannels) and zeroes everything else,
    /// including channels `channels..<dstChannels`. Writes padded rows `rows` (all rows when nil), so
    /// threads can share the work.
    public static func image(_ src: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                             top: Int, left: Int, bottom: Int, right: Int,
                             into dst: UnsafeMutablePointer<Float>, dstChannels: Int, rows: Range<Int>? = nil) {
        withUnsafePointer(to: Optional(src)) { source in
            image(ChannelBlocks(sources: source, count: 1, channels: channels), height: height, width: width,
                  top: top, left: left, bottom: bottom, right: right, into: dst, dstChannels: dstChannels, rows: rows)
        }
    }

    /// Copies the `channels` values of `pixels` consecutive pixels of `src` (zeros when nil) to `dst`,
    /// `dstStride` floats apart: one block of channels into an image of more.
    @inline(__always)
    public static func copyPixels(_ src: UnsafePointer<Float>?, channels c: Int, pixels: Int, into dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        guard let src else {
            for p in 0..<pixels { (dst + p &* dstStride).update(repeating: 0, count: c) }
            return
        }
        if c % 8 == 0 {
            // Short runs (16-64 channels): inline vector copies instead of a library call per pixel.
            for p in 0..<pixels {
                let from = UnsafeRawPointer(src + p &* c), to = UnsafeMutableRawPointer(dst + p &* dstStride)
                var k = 0
                while k < c {
                    to.storeBytes(of: from.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self), toByteOffset: k &* 4, as: SIMD8<Float>.self)
                    k &+= 8
                }
            }
        } else {
            for p in 0..<pixels { for k in 0..<c { dst[p &* dstStride &+ k] = src[p &* c &+ k] } }
        }
    }
}

/// An image whose channels come in `count` equal blocks of `channels`, block k read from its own NHWC image
/// `sources[k]` of `channels` channels (all zeros where nil): the input of a 3D convolution's output slice, whose
/// depth taps are input slices stacked channel-wise.
public struct ChannelBlocks {
    public let sources: UnsafePointer<UnsafePointer<Float>?>
    public let count: Int
    public let channels: Int

    public init(sources: UnsafePointer<UnsafePointer<Float>?>, count: Int, channels: Int) {
        self.sources = sources
        self.count = count
        self.channels = channels
    }

    /// Channels of the stacked image.
    public var stackedChannels: Int { count * channels }
}

extension F32Pad {
    /// `image(...)` of the stacked image `blocks` (height x width x `blocks.stackedChannels`): stacks and pads
    /// in one pass, with the same result as stacking into a buffer, then padding it.
    public static func image(_ blocks: ChannelBlocks, height: Int, width: Int, top: Int, left: Int, bottom: Int, right: Int,
                             into dst: UnsafeMutablePointer<Float>, dstChannels: Int, rows: Range<Int>? = nil) {
        let channels = blocks.stackedChannels, c = blocks.channels
        precondition(dstChannels >= channels, "padding cannot drop channels (\(channels) -> \(dstChannels))")
        let pw = left + width + right, ph = top + height + bottom
        let rowFloats = pw * dstChannels
        for y in rows ?? 0..<ph {
            let drow = dst + y * rowFloats
            let sy = y - top
            if sy < 0 || sy >= height {
                drow.update(repeating: 0, count: rowFloats)
                continue
            }
            drow.update(repeating: 0, count: left * dstChannels)
            let interior = drow + left * dstChannels
            if blocks.count == 1 && dstChannels == c, let source = blocks.sources[0] {
                interior.update(from: source + sy * width * c, count: width * c)
            } else {
                for k in 0..<blocks.count {
                    copyPixels(blocks.sources[k].map { $0 + sy * width * c }, channels: c, pixels: width, into: interior + k * c, dstStride: dstChannels)
                }
                if dstChannels > channels {
                    for x in 0..<width { (interior + x * dstChannels + channels).update(repeating: 0, count: dstChannels - channels) }
                }
            }
            (drow + (left + width) * dstChannels).update(repeating: 0, count: right * dstChannels)
        }
    }
}
