import Foundation
import Engine
import ImageIO

/// Synthetic abdominal MRI scans in the UW-Madison GI tract challenge's layout, for tests, the README and quick
/// multi-label experiments (the real data cannot be shipped):
///
///     ROOT/train.csv                                   id,class,segmentation (run-length, 1-based, row-major)
///     ROOT/caseN/caseN_day0/scans/slice_0001_W_H_1.50_1.50.png    16-bit grey, W x H pixels of 1.50 mm
///
/// Each case is one scan of `slices` slices through three organs that change size along the scan: the stomach
/// (an ellipsoid), the small bowel (a blob that overlaps the stomach, so those pixels carry both labels) and the
/// large bowel (a thick arc around them). Every label is absent from some slices, as in the real scans.
public enum SyntheticGITract {
    public static let labels = ["large_bowel", "small_bowel", "stomach"]

    /// Writes `cases` scans (ids `caseN_day0_slice_K`) and their train.csv under `root`; returns the file count.
    @discardableResult
    public static func write(to root: String, cases: Int, slices: Int, size: Int, seed: UInt64) throws -> Int {
        precondition(cases >= 1 && slices >= 1 && size >= 16, "at least one case of one slice of 16 pixels")
        var csv = "id,class,segmentation\n"
        var files = 0
        for n in 0..<cases {
            var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(n) &+ 7)
            let caseName = "case\(n + 1)", scan = "\(caseName)_day0"
            let folder = root + "/" + caseName + "/" + scan + "/scans"
            try BinaryFile.makeFolders(folder)
            let s = Double(size), d = Double(slices)
            // Organ geometry of this case: centres, radii, and the slice range each spans.
            let stomach = (y: s * (0.38 + 0.05 * Double(rng.uniform())), x: s * (0.62 + 0.05 * Double(rng.uniform())), r: s * 0.16,
                           z: d * 0.35, depth: d * 0.3)
            let small = (y: stomach.y + s * 0.14, x: stomach.x - s * 0.12, r: s * 0.14, z: d * 0.55, depth: d * 0.35)
            let large = (y: s * 0.5, x: s * 0.5, r: s * 0.33, width: s * 0.06, z: d * 0.6, depth: d * 0.4)
            let grain = (0..<(size * size * slices)).map { _ in Double(rng.uniform()) }
            for k in 0..<slices {
                let z = Double(k) + 0.5
                func scale(_ centre: Double, _ depth: Double) -> Double {
                    let t = (z - centre) / depth
                    return t * t >= 1 ? 0 : (1 - t * t).squareRoot()
                }
                let rs = stomach.r * scale(stomach.z, stomach.depth), rb = small.r * scale(small.z, small.depth)
                let arc = scale(large.z, large.depth)
                var pixels = [UInt16](repeating: 0, count: size * size)
                var masks = [[Bool]](repeating: [Bool](repeating: false, count: size * size), count: 3)
                for y in 0..<size {
                    for x in 0..<size {
                        let p = y * size + x, fy = Double(y) + 0.5, fx = Double(x) + 0.5
                        let body = pow((fy - s / 2) / (s * 0.46), 2) + pow((fx - s / 2) / (s * 0.42), 2) < 1
                        var v = body ? 0.30 : 0.04
                        let inStomach = rs > 0 && pow(fy - stomach.y, 2) + pow((fx - stomach.x) * 0.8, 2) < rs * rs
                        let inSmall = rb > 0 && pow(fy - small.y, 2) + pow(fx - small.x, 2) < rb * rb
                        let ring = (pow(fy - large.y, 2) + pow(fx - large.x, 2)).squareRoot()
                        let angle = atan2(fy - large.y, fx - large.x)
                        let inLarge = arc > 0 && abs(ring - large.r) < large.width * arc && angle > -2.6 && angle < 0.9
                        if inLarge { v = 0.50; masks[0][p] = true }
                        if inSmall { v = 0.78; masks[1][p] = true }
                        if inStomach { v = inSmall ? 0.66 : 0.58; masks[2][p] = true }
                        v += 0.04 * grain[k * size * size + p]
                        pixels[p] = UInt16(max(0, min(65535, v * 4000)))
                    }
                }
                let file = String(format: "slice_%04d_%d_%d_1.50_1.50.png", k + 1, size, size)
                try ImageFile.writePNG16(pixels, width: size, height: size, to: folder + "/" + file)
                files += 1
                let id = String(format: "%@_slice_%04d", scan, k + 1)
                for (c, label) in labels.enumerated() { csv += "\(id),\(label),\(runLength(masks[c]))\n" }
            }
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: root + "/train.csv"), options: .atomic)
        return files + 1
    }

    /// "start length ..." of the set pixels, row-major, 1-based starts (empty when none), as train.csv holds them.
    static func runLength(_ mask: [Bool]) -> String {
        var runs: [String] = []
        var i = 0
        while i < mask.count {
            if !mask[i] { i += 1; continue }
            let start = i
            while i < mask.count && mask[i] { i += 1 }
            runs.append("\(start + 1) \(i - start)")
        }
        return runs.joined(separator: " ")
    }
}
