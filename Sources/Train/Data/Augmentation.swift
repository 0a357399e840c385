import Foundation
import Engine

/// Seeded augmentation of one sample. The random draws depend only on (seed, epoch, sample index), so a
/// run is reproducible and a resumed run draws what the uninterrupted run would have.
public struct Augmentation: Equatable {
    /// Left-right mirroring (half the samples).
    public var flips = true
    /// Up-down mirroring too (half the samples): unnatural for most anatomy, so only `strong` has it.
    public var verticalFlips = true
    /// Quarter turns (square images only).
    public var rotations = true
    /// Brightness shift up to +-this, contrast factor within 1 +- this, gamma within [1/(1+g), 1+g].
    public var brightness: Float = 0.1
    public var contrast: Float = 0.15
    public var gamma: Float = 0.25
    /// Random scale within 1 +- this, rotation within +- `rotationDegrees`, and a shift (a random crop)
    /// within +- `shift` of the size; image bilinear, mask nearest, borders clamped.
    public var scale: Float = 0.15
    public var rotationDegrees: Float = 15
    public var shift: Float = 0.08
    /// Elastic deformation (Simard et al.): a smooth random displacement field of up to this many pixels
    /// (0: off, the default).
    public var elasticPixels: Float = 0

    /// The `strong` preset (what `--augment on` meant before issue 24).
    public init() {}

    public static let none: Augmentation = {
        var a = Augmentation()
        a.flips = false; a.verticalFlips = false; a.rotations = false; a.brightness = 0; a.contrast = 0; a.gamma = 0
        a.scale = 0; a.rotationDegrees = 0; a.shift = 0
        return a
    }()

    /// Every augmentation at full strength: both mirrorings, quarter turns, scale 1 +- 0.15, rotation +-15
    /// degrees, shift +-8%, brightness, contrast and gamma.
    public static let strong = Augmentation()

    /// Left-right mirroring only (the plain PyTorch recipe's augmentation).
    public static let flips: Augmentation = {
        var a = Augmentation.none
        a.flips = true
        return a
    }()

    /// Left-right mirroring, a mild scale (1 +- 0.1), rotation (+-10 degrees) and shift (+-5%), and mild
    /// intensity changes: anatomy stays anatomy, and small structures keep their size.
    public static let light: Augmentation = {
        var a = Augmentation.none
        a.flips = true
        a.scale = 0.1; a.rotationDegrees = 10; a.shift = 0.05
        a.brightness = 0.05; a.contrast = 0.1; a.gamma = 0.1
        return a
    }()

    /// The presets by their `--augment` names.
    public static func named(_ name: String) -> Augmentation? {
        switch name {
        case "off": return Augmentation.none
        case "flips": return flips
        case "light": return light
        case "strong", "on": return strong
        case "elastic":
            var a = strong
            a.elasticPixels = -1  // resolved to a sixteenth of the training size by the caller
            return a
        default: return nil
        }
    }

    public static let names = ["light", "flips", "strong", "elastic", "off"]

    public func apply(_ s: Sample, channels: Int, height h: Int, width w: Int, seed: UInt64, epoch: Int, index: Int) -> Sample {
        var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &* 0x1_0000_0001 &+ UInt64(index))
        func unit() -> Float { (rng.uniform() + 1) / 2 }
        var out = s
        // Both draws always happen, so turning one mirroring off leaves the other draws unchanged.
        let drawH = unit() < 0.5, drawV = unit() < 0.5
        let flipH = flips && drawH, flipV = verticalFlips && drawV
        let turns = rotations && h == w ? Int(unit() * 4) % 4 : 0
        if flipH || flipV || turns > 0 {
            func source(_ y: Int, _ x: Int) -> Int {
                var (sy, sx) = (y, x)
                for _ in 0..<turns { (sy, sx) = (w - 1 - sx, sy) }
                if flipV { sy = h - 1 - sy }
                if flipH { sx = w - 1 - sx }
                return sy * w + sx
            }
            for y in 0..<h {
                for x in 0..<w {
                    let from = source(y, x)
                    out.mask[y * w + x] = s.mask[from]
                    for c in 0..<channels { out.image[c * h * w + y * w + x] = s.image[c * h * w + from] }
                }
            }
        }
        let zoom = 1 + self.scale * rng.uniform(), angle = rotationDegrees * rng.uniform() * Float.pi / 180
        let ty = self.shift * Float(h) * rng.uniform(), tx = self.shift * Float(w) * rng.uniform()
        if zoom != 1 || angle != 0 || ty != 0 || tx != 0 {
            out = warp(out, channels: channels, height: h, width: w, zoom: zoom, angle: angle, ty: ty, tx: tx)
        }
        if elasticPixels > 0 {
            out = elastic(out, channels: channels, height: h, width: w, seed: rng.next())
        }
        let shift = brightness * rng.uniform(), scale = 1 + contrast * rng.uniform()
        let g = gamma > 0 ? Float(Foundation.pow(Double(1 + gamma), Double(rng.uniform()))) : 1
        if shift != 0 || scale != 1 || g != 1 {
            for i in 0..<out.image.count {
                var v = max(0, min(1, out.image[i]))
                if g != 1 { v = Foundation.pow(v, g) }
                out.image[i] = (v - 0.5) * scale + 0.5 + shift
            }
        }
        return out
    }

    /// Output pixel p samples the input at `R(-angle) (p - c - t) / zoom + c`.
    func warp(_ s: Sample, channels: Int, height h: Int, width w: Int, zoom: Float, angle: Float, ty: Float, tx: Float) -> Sample {
        let cy = Float(h - 1) / 2, cx = Float(w - 1) / 2
        let cosA = Float(Foundation.cos(Double(angle))), sinA = Float(Foundation.sin(Double(angle)))
        return resample(s, channels: channels, height: h, width: w) { y, x in
            let dy = Float(y) - cy - ty, dx = Float(x) - cx - tx
            return ((cosA * dy + sinA * dx) / zoom + cy, (-sinA * dy + cosA * dx) / zoom + cx)
        }
    }

    /// Displaces every pixel by a smooth field: value noise on a 4x4 grid per axis, bilinearly interpolated,
    /// scaled to `elasticPixels`.
    func elastic(_ s: Sample, channels: Int, height h: Int, width w: Int, seed: UInt64) -> Sample {
        var rng = SeededGenerator(seed: seed)
        let cells = 4, r = cells + 1
        var gridY = [Float](repeating: 0, count: r * r), gridX = gridY
        for i in 0..<gridY.count { gridY[i] = rng.uniform() * elasticPixels; gridX[i] = rng.uniform() * elasticPixels }
        func field(_ grid: [Float], _ y: Int, _ x: Int) -> Float {
            let gy = Float(y) / Float(max(1, h - 1)) * Float(cells), gx = Float(x) / Float(max(1, w - 1)) * Float(cells)
            let y0 = min(cells - 1, Int(gy)), x0 = min(cells - 1, Int(gx)), fy = gy - Float(y0), fx = gx - Float(x0)
            return (grid[y0 * r + x0] * (1 - fx) + grid[y0 * r + x0 + 1] * fx) * (1 - fy)
                + (grid[(y0 + 1) * r + x0] * (1 - fx) + grid[(y0 + 1) * r + x0 + 1] * fx) * fy
        }
        return resample(s, channels: channels, height: h, width: w) { y, x in
            (Float(y) + field(gridY, y, x), Float(x) + field(gridX, y, x))
        }
    }

    /// Output pixel (y, x) takes the input at `source(y, x)`, clamped to the image: image bilinear, mask nearest.
    func resample(_ s: Sample, channels: Int, height h: Int, width w: Int, source: (Int, Int) -> (Float, Float)) -> Sample {
        var out = s
        for y in 0..<h {
            for x in 0..<w {
                let (ry, rx) = source(y, x)
                let sy = max(0, min(Float(h - 1), ry)), sx = max(0, min(Float(w - 1), rx))
                let y0 = Int(sy), x0 = Int(sx), y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                let fy = sy - Float(y0), fx = sx - Float(x0)
                out.mask[y * w + x] = s.mask[Int(sy.rounded()) * w + Int(sx.rounded())]
                for c in 0..<channels {
                    let plane = c * h * w
                    let top = s.image[plane + y0 * w + x0] * (1 - fx) + s.image[plane + y0 * w + x1] * fx
                    let bottom = s.image[plane + y1 * w + x0] * (1 - fx) + s.image[plane + y1 * w + x1] * fx
                    out.image[plane + y * w + x] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return out
    }
}
