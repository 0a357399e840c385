/// Zero padding of one NHWC image, so that convolution tiles never test bounds.
public enum F32Pad {
    /// Copies `src` (height x width x channels) into the middle of `dst`
    /// ((top+height+bottom) x (left+width+right) x dstChannels) and zeroes everything else,
    /// including channels `channels..<dstChannels`. Writes padded rows `rows` (all rows when nil), so
    /// threads can share the work.
    public static func image(_ src: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                             top: Int, left: Int, bottom: Int, right: Int,
                             into dst: UnsafeMutablePointer<Float>, dstChannels: Int, rows: Range<Int>? = nil) {
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
            let srow = src + sy * width * channels
            if dstChannels == channels {
                (drow + left * dstChannels).update(from: srow, count: width * channels)
            } else {
                for x in 0..<width {
                    let d = drow + (left + x) * dstChannels
                    d.update(from: srow + x * channels, count: channels)
                    (d + channels).update(repeating: 0, count: dstChannels - channels)
                }
            }
            (drow + (left + width) * dstChannels).update(repeating: 0, count: right * dstChannels)
        }
    }
}
