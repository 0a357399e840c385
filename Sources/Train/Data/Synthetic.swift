import Foundation
import Engine

/// Synthetic segmentation data with exact masks, for the demo, tests and quick experiments.
///
/// - `lesion` (ISIC-like, RGB, binary): skin-toned textured background with vignetting, one irregular
///   pigmented lesion (a radius that varies with angle, colour varying from centre to rim and with
///   blotches), and dark hairs crossing image and lesion; the mask is the lesion.
/// - `organs` (CT-like, grey, 4 classes): a body ellipse on dark noise holding up to three organ blobs
///   with irregular borders and their own intensities; the mask holds class ids 0-3.
/// - `nuclei` (fluorescence-like, grey, instances): 6-18 bright, slightly irregular nuclei on dark noise, many
///   touching; each is brightest at its centre, so the seam between touching ones is dimmer. The mask holds
///   3 classes as boundary-aware instance U-Nets learn them (0 background, 1 interior, 2 boundary: an element
///   with a 4-neighbour outside its nucleus), and `instances` the label map (0, 1...N).
public enum SyntheticData {
    public enum Kind: String, CaseIterable { case lesion, organs, nuclei }

    public struct Example {
        public var image: [UInt8]   // HWC
        public var channels: Int
        public var mask: [UInt8]    // class ids
        /// The instance label map (nuclei only).
        public var instances: [UInt16]? = nil
    }

    /// Smooth value noise in [0, 1]: `octaves` layers of bilinearly interpolated random grids.
    static func noise(_ size: Int, cells: Int, octaves: Int, rng: inout SeededGenerator) -> [Float] {
        var out = [Float](repeating: 0, count: size * size)
        var amplitude: Float = 1, total: Float = 0, n = cells
        for _ in 0..<octaves {
            var grid = [Float](repeating: 0, count: (n + 1) * (n + 1))
            for i in 0..<grid.count { grid[i] = (rng.uniform() + 1) / 2 }
            for y in 0..<size {
                let gy = Float(y) / Float(size) * Float(n), y0 = Int(gy), fy = gy - Float(y0)
                let sy = fy * fy * (3 - 2 * fy)
                for x in 0..<size {
                    let gx = Float(x) / Float(size) * Float(n), x0 = Int(gx), fx = gx - Float(x0)
                    let sx = fx * fx * (3 - 2 * fx)
                    let a = grid[y0 * (n + 1) + x0], b = grid[y0 * (n + 1) + x0 + 1]
                    let c = grid[(y0 + 1) * (n + 1) + x0], d = grid[(y0 + 1) * (n + 1) + x0 + 1]
                    out[y * size + x] += amplitude * ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy)
                }
            }
            total += amplitude
            amplitude *= 0.5
            n *= 2
        }
        for i in 0..<out.count { out[i] /= total }
        return out
    }

    /// A closed irregular shape: radius(theta) = r * (1 + sum of a few random harmonics).
    static func blob(center: (Float, Float), radius: Float, roughness: Float, rng: inout SeededGenerator) -> (Float, Float) -> Bool {
        var harmonics: [(Float, Float, Float)] = []
        for k in 2...6 { harmonics.append((Float(k), roughness * rng.uniform() / Float(k - 1), Float.pi * rng.uniform())) }
        return { y, x in
            let dy = y - center.0, dx = x - center.1
            let theta = Float(atan2(Double(dy), Double(dx)))
            var r = radius
            for (k, a, phase) in harmonics { r *= 1 + a * Float(sin(Double(k * theta + phase))) }
            return dy * dy + dx * dx < r * r
        }
    }

    public static func example(_ kind: Kind, size: Int, seed: UInt64, index: Int) -> Example {
        var rng = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(index) &+ 1)
        let s = Float(size)
        switch kind {
        case .lesion:
            let texture = noise(size, cells: 6, octaves: 4, rng: &rng), blotch = noise(size, cells: 3, octaves: 3, rng: &rng)
            let skin: (Float, Float, Float) = (0.80 + 0.1 * rng.uniform(), 0.62 + 0.08 * rng.uniform(), 0.52 + 0.08 * rng.uniform())
            let pigment: (Float, Float, Float) = (0.42 + 0.08 * rng.uniform(), 0.22 + 0.04 * rng.uniform(), 0.10 + 0.03 * rng.uniform())
            let center = (s * (0.5 + 0.15 * rng.uniform()), s * (0.5 + 0.15 * rng.uniform()))
            let radius = s * (0.16 + 0.08 * (rng.uniform() + 1) / 2)
            let inside = blob(center: center, radius: radius, roughness: 0.35, rng: &rng)
            var image = [UInt8](repeating: 0, count: size * size * 3), mask = [UInt8](repeating: 0, count: size * size)
            // Hairs: dark quadratic curves.
            var hairs: [(Float, Float, Float, Float, Float)] = []
            for _ in 0..<Int((rng.uniform() + 1) * 3) {
                hairs.append((s * (rng.uniform() + 1) / 2, s * (rng.uniform() + 1) / 2, Float.pi * rng.uniform(), 0.004 * rng.uniform(), 0.6 + 0.6 * (rng.uniform() + 1) / 2))
            }
            for y in 0..<size {
                for x in 0..<size {
                    let p = y * size + x, fy = Float(y), fx = Float(x)
                    let t = texture[p] - 0.5
                    var c = (skin.0 + 0.08 * t, skin.1 + 0.08 * t, skin.2 + 0.06 * t)
                    if inside(fy, fx) {
                        mask[p] = 1
                        let dy = fy - center.0, dx = fx - center.1
                        let rim = min(1, (dy * dy + dx * dx).squareRoot() / radius)
                        let depth = 0.55 + 0.45 * (1 - rim) + 0.3 * (blotch[p] - 0.5)
                        c = (c.0 + (pigment.0 - c.0) * depth, c.1 + (pigment.1 - c.1) * depth, c.2 + (pigment.2 - c.2) * depth)
                    }
                    for (hy, hx, angle, bend, thickness) in hairs {
                        let u = (fx - hx) * Float(cos(Double(angle))) + (fy - hy) * Float(sin(Double(angle)))
                        let v = -(fx - hx) * Float(sin(Double(angle))) + (fy - hy) * Float(cos(Double(angle)))
                        if abs(v - bend * u * u) < thickness { c = (c.0 * 0.35, c.1 * 0.3, c.2 * 0.3) }
                    }
                    let vy = (fy / s - 0.5), vx = (fx / s - 0.5)
                    let vignette = 1 - 0.6 * (vy * vy + vx * vx)
                    image[p * 3] = UInt8(max(0, min(255, c.0 * vignette * 255)))
                    image[p * 3 + 1] = UInt8(max(0, min(255, c.1 * vignette * 255)))
                    image[p * 3 + 2] = UInt8(max(0, min(255, c.2 * vignette * 255)))
                }
            }
            return Example(image: image, channels: 3, mask: mask)
        case .organs:
            let grain = noise(size, cells: 32, octaves: 2, rng: &rng)
            let body = blob(center: (s / 2, s / 2), radius: s * 0.42, roughness: 0.08, rng: &rng)
            var organs: [((Float, Float) -> Bool, Float, UInt8)] = []
            let intensities: [Float] = [0.75, 0.55, 0.9]
            for k in 0..<3 where k == 0 || rng.uniform() > -0.6 {
                let c = (s * (0.5 + 0.22 * rng.uniform()), s * (0.5 + 0.22 * rng.uniform()))
                organs.append((blob(center: c, radius: s * (0.08 + 0.04 * (rng.uniform() + 1) / 2), roughness: 0.3, rng: &rng),
                               intensities[k] + 0.05 * rng.uniform(), UInt8(k + 1)))
            }
            var image = [UInt8](repeating: 0, count: size * size), mask = [UInt8](repeating: 0, count: size * size)
            for y in 0..<size {
                for x in 0..<size {
                    let p = y * size + x, fy = Float(y), fx = Float(x)
                    var v: Float = 0.08
                    if body(fy, fx) {
                        v = 0.35
                        for (inside, level, label) in organs where inside(fy, fx) {
                            v = level
                            mask[p] = label
                        }
                    }
                    v += 0.12 * (grain[p] - 0.5) + 0.03 * rng.uniform()
                    image[p] = UInt8(max(0, min(255, v * 255)))
                }
            }
            return Example(image: image, channels: 1, mask: mask)
        case .nuclei:
            let grain = noise(size, cells: 16, octaves: 2, rng: &rng)
            var nuclei: [(center: (Float, Float), radius: Float, inside: (Float, Float) -> Bool, brightness: Float)] = []
            let wanted = 6 + Int((rng.uniform() + 1) * 6)
            var tries = 0
            while nuclei.count < wanted && tries < 200 {
                tries += 1
                let r = s * (0.05 + 0.03 * (rng.uniform() + 1) / 2)
                let c = (s * (0.5 + 0.42 * rng.uniform()), s * (0.5 + 0.42 * rng.uniform()))
                // Touching is common, deep overlap is not: centres at least 1.4 radii apart.
                if nuclei.contains(where: { n in
                    let dy = n.center.0 - c.0, dx = n.center.1 - c.1
                    return (dy * dy + dx * dx).squareRoot() < 0.7 * (n.radius + r)
                }) { continue }
                nuclei.append((c, r, blob(center: c, radius: r, roughness: 0.15, rng: &rng), 0.65 + 0.3 * (rng.uniform() + 1) / 2))
            }
            var image = [UInt8](repeating: 0, count: size * size), ids = [UInt16](repeating: 0, count: size * size)
            for y in 0..<size {
                for x in 0..<size {
                    let p = y * size + x, fy = Float(y), fx = Float(x)
                    var v: Float = 0.06, nearest = Float.infinity
                    // A pixel inside several nuclei belongs to the one whose centre is nearest (relative to its radius).
                    for (k, n) in nuclei.enumerated() where n.inside(fy, fx) {
                        let dy = fy - n.center.0, dx = fx - n.center.1
                        let d = (dy * dy + dx * dx).squareRoot() / n.radius
                        if d < nearest {
                            nearest = d
                            ids[p] = UInt16(k + 1)
                            v = n.brightness * (1 - 0.45 * min(1, d * d))
                        }
                    }
                    v += 0.08 * (grain[p] - 0.5) + 0.03 * rng.uniform()
                    image[p] = UInt8(max(0, min(255, v * 255)))
                }
            }
            var mask = [UInt8](repeating: 0, count: size * size)
            for y in 0..<size {
                for x in 0..<size where ids[y * size + x] != 0 {
                    let id = ids[y * size + x]
                    func outside(_ yy: Int, _ xx: Int) -> Bool {
                        if yy < 0 || yy >= size || xx < 0 || xx >= size { return true }
                        return ids[yy * size + xx] != id
                    }
                    let edge = outside(y - 1, x) || outside(y + 1, x) || outside(y, x - 1) || outside(y, x + 1)
                    mask[y * size + x] = edge ? 2 : 1
                }
            }
            return Example(image: image, channels: 1, mask: mask, instances: ids)
        }
    }
}
