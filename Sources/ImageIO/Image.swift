/// A decoded image: `channels` interleaved samples per pixel (1 grey or 3 RGB; alpha is dropped),
/// scaled to [0, 1] from the file's 8 or 16 bits.
public struct Image: Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// Bits per sample in the file (8 or 16).
    public var bitDepth: Int
    /// Row-major, channel-interleaved (HWC) samples in [0, 1].
    public var samples: [Float]

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [Float]) {
        precondition(samples.count == width * height * channels, "image \(width)x\(height)x\(channels) needs \(width * height * channels) samples")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    /// The samples as planes (CHW), as the network takes them.
    public var planar: [Float] {
        if channels == 1 { return samples }
        var out = [Float](repeating: 0, count: samples.count)
        let hw = width * height
        for p in 0..<hw { for c in 0..<channels { out[c * hw + p] = samples[p * channels + c] } }
        return out
    }

    /// Converts to `count` channels: grey is repeated to RGB, RGB averages to grey (ITU-R BT.601 weights).
    public func converted(toChannels count: Int) -> Image {
        if count == channels { return self }
        let hw = width * height
        var out = [Float](repeating: 0, count: hw * count)
        for p in 0..<hw {
            if channels == 1 {
                for c in 0..<count { out[p * count + c] = samples[p] }
            } else if count == 1 {
                out[p] = 0.299 * samples[p * 3] + 0.587 * samples[p * 3 + 1] + 0.114 * samples[p * 3 + 2]
            } else {
                for c in 0..<count { out[p * count + c] = samples[p * channels + min(c, channels - 1)] }
            }
        }
        return Image(width: width, height: height, channels: count, bitDepth: bitDepth, samples: out)
    }

    /// 8-bit display values of the grey (or first three) channels, for overlays.
    public var displayRGB: [UInt8] {
        let hw = width * height
        var out = [UInt8](repeating: 0, count: hw * 3)
        for p in 0..<hw {
            for c in 0..<3 {
                let v = samples[p * channels + (channels == 1 ? 0 : c)]
                out[p * 3 + c] = UInt8(max(0, min(255, (v * 255).rounded())))
            }
        }
        return out
    }
}

/// How large an image file may decode: a header claiming more is refused before any pixel is allocated, so a
/// decompression bomb (a PNG or JPEG of a few kilobytes whose header claims 60000 x 60000 pixels) is an error,
/// not a process killed for memory. The same bound as a volume's (`VolumeLimits`): 2^29 samples, 2 GiB as
/// floats, 179 megapixels of RGB (Pillow's bound for a decompression bomb error) or 537 of grey.
public enum ImageLimits {
    public static let maxValues = 1 << 29

    /// Throws when `width x height x components` samples exceed `maxValues`.
    static func check(width: Int, height: Int, components: Int, path: String) throws(ImageIOError) {
        do { _ = try checkedProduct([width, height, components], limit: maxValues, path: path) } catch {
            guard case .tooLarge(_, let values, let limit) = error else { return }
            throw .unsupported(path: path, reason: sizeClaimRefusal(values: values, limit: limit))
        }
    }
}

/// Why an image could not be read or written. The CLI prints it as one line.
public enum ImageIOError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case unknownFormat(path: String)
    case corrupt(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "\(p): cannot read: \(r)"
        case .unknownFormat(let p): return "\(p): not a PNG or JPEG file"
        case .corrupt(let p, let r): return "\(p): corrupt or truncated image: \(r)"
        case .unsupported(let p, let r): return "\(p): unsupported image: \(r)"
        case .cannotWrite(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}
