import Kernels

/// How overlapping tiles are weighted where they meet.
public enum TileBlending: String {
    /// A Gaussian centred on the tile, sigma = tile / 8 (as nnU-Net): tile borders count little.
    case gaussian
    /// A tent that falls linearly from the centre to the border.
    case linear
    /// Every pixel of a tile counts the same (MONAI's "constant").
    case constant
}

/// Tile placement and blending weights for sliding-window inference.
public enum SlidingWindow {
    /// Start positions of tiles of `tile` along an axis of `size`, with the given fractional overlap:
    /// evenly spaced from 0 to `size - tile`, at most `tile * (1 - overlap)` apart. One tile at 0 when it fits.
    public static func starts(size: Int, tile: Int, overlap: Double) -> [Int] {
        if size <= tile { return [0] }
        let step = max(1, Int((Double(tile) * (1 - overlap)).rounded(.down)))
        let count = (size - tile + step - 1) / step + 1
        var list: [Int] = []
        for i in 0..<count { list.append(Int((Double(i) * Double(size - tile) / Double(count - 1)).rounded())) }
        return list
    }

    /// Weights of a `height x width` tile (row-major), strictly positive.
    public static func weights(height: Int, width: Int, blending: TileBlending) -> [Float] {
        var w = [Float](repeating: 1, count: height * width)
        switch blending {
        case .constant:
            break
        case .gaussian:
            let sy = Double(height) / 8, sx = Double(width) / 8
            let cy = Double(height - 1) / 2, cx = Double(width - 1) / 2
            for y in 0..<height {
                for x in 0..<width {
                    let dy = (Double(y) - cy) / sy, dx = (Double(x) - cx) / sx
                    w[y * width + x] = max(Float(LayerReference.exp64(-0.5 * (dy * dy + dx * dx))), 1e-4)
                }
            }
        case .linear:
            for y in 0..<height {
                for x in 0..<width {
                    let ty = Float(min(y + 1, height - y)), tx = Float(min(x + 1, width - x))
                    w[y * width + x] = ty * tx
                }
            }
        }
        return w
    }
}
