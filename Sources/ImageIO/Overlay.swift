/// Pictures of segmentations: label maps drawn over the image they came from.
public enum Overlay {
    public enum Style: String {
        /// Only the boundary of each region, in its class colour.
        case outline
        /// Regions tinted with their class colour (40%), boundaries solid.
        case tint
    }

    /// Class colours (class 0 is background and is not drawn).
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (255, 48, 48), (48, 220, 48), (64, 128, 255), (255, 210, 0), (230, 60, 230), (0, 220, 220), (255, 140, 0),
    ]

    public static func color(_ label: UInt8) -> (UInt8, UInt8, UInt8) {
        palette[label == 0 ? 0 : 1 + (Int(label) - 1) % (palette.count - 1)]
    }

    /// RGB pixels of `image` with `labels` (one per pixel, 0 = background) drawn on top.
    public static func render(_ image: Image, labels: [UInt8], style: Style) -> [UInt8] {
        precondition(labels.count == image.width * image.height, "one label per pixel")
        var rgb = image.displayRGB
        let w = image.width, h = image.height
        for y in 0..<h {
            for x in 0..<w {
                let p = y * w + x, label = labels[p]
                if label == 0 { continue }
                // Outside the image counts as background, so regions touching the border are closed.
                let edge = x == 0 || x + 1 == w || y == 0 || y + 1 == h
                    || labels[p - 1] != label || labels[p + 1] != label || labels[p - w] != label || labels[p + w] != label
                let (r, g, b) = color(label)
                if edge {
                    rgb[p * 3] = r
                    rgb[p * 3 + 1] = g
                    rgb[p * 3 + 2] = b
                } else if style == .tint {
                    rgb[p * 3] = blend(rgb[p * 3], r)
                    rgb[p * 3 + 1] = blend(rgb[p * 3 + 1], g)
                    rgb[p * 3 + 2] = blend(rgb[p * 3 + 2], b)
                }
            }
        }
        return rgb
    }

    static func blend(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Int(a) * 6 + Int(b) * 4) / 10) }
}

extension Overlay {
    /// A heat colour for `t` in [0, 1]: dark blue, cyan, yellow, red (a perceptually ordered "jet"-like ramp).
    public static func heatColor(_ t: Float) -> (Float, Float, Float) {
        let v = min(1, max(0, t))
        let stops: [(Float, Float, Float)] = [(0, 0, 0.5), (0, 0.6, 1), (0.2, 1, 0.6), (1, 0.9, 0), (1, 0.1, 0)]
        let x = v * Float(stops.count - 1)
        let i = min(stops.count - 2, Int(x)), f = x - Float(i)
        let a = stops[i], b = stops[i + 1]
        return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }

    /// RGB pixels of `image` with a heatmap (one value in [0, 1] per pixel) blended on top; the blend grows
    /// with the heat, so cold regions show the image.
    public static func heatmap(_ image: Image, heat: [Float], opacity: Float = 0.6) -> [UInt8] {
        precondition(heat.count == image.width * image.height, "one heat value per pixel")
        var rgb = image.displayRGB
        for p in 0..<heat.count {
            let (r, g, b) = heatColor(heat[p])
            let a = opacity * (0.25 + 0.75 * min(1, max(0, heat[p])))
            rgb[p * 3] = UInt8(Float(rgb[p * 3]) * (1 - a) + 255 * r * a)
            rgb[p * 3 + 1] = UInt8(Float(rgb[p * 3 + 1]) * (1 - a) + 255 * g * a)
            rgb[p * 3 + 2] = UInt8(Float(rgb[p * 3 + 2]) * (1 - a) + 255 * b * a)
        }
        return rgb
    }
}
