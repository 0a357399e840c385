import Foundation
import Engine
import ImageIO

/// Synthetic CT-like volumes for 3D tests and quick runs (`segrun synth --kind volumes`): each case an
/// ellipsoid organ (label 1) with a small lesion inside it (label 2, brighter), on a background whose intensity
/// drifts smoothly, with noise; anisotropic voxels (`spacing`, x, y, z in mm), so the planner and the
/// anisotropic networks have something to plan. Written as NRRD (`images/CASE.nrrd`, `masks/CASE.nrrd`) with a
/// `dataset.json` naming the labels. Seeded: the same seed writes the same files.
public enum SyntheticVolumes {
    public static let labels = ["background", "organ", "lesion"]

    public static func write(to root: String, cases: Int, size: Int, slices: Int, spacing: [Double] = [1, 1, 2.5], seed: UInt64) throws {
        for sub in ["images", "masks"] { try BinaryFile.makeFolders(root + "/" + sub) }
        let header = NRRDHeader(magic: "NRRD0004", fields: [
            ("space", "left-posterior-superior"),
            ("space directions", "(\(spacing[0]),0,0) (0,\(spacing[1]),0) (0,0,\(spacing[2]))"),
            ("space origin", "(0,0,0)"),
            ("space units", "\"mm\" \"mm\" \"mm\""),
        ])
        for k in 0..<cases {
            let (image, mask) = example(size: size, slices: slices, spacing: spacing, seed: seed, index: k)
            let name = String(format: "case%03d.nrrd", k)
            try NRRD.write(.float32(image), size: [size, size, slices], like: header, to: root + "/images/" + name)
            try NRRD.write(.uint8(mask), size: [size, size, slices], like: header, to: root + "/masks/" + name)
        }
        let names = labels.enumerated().map { "\"\($1)\": \($0)" }.joined(separator: ", ")
        let json = "{\n \"name\": \"synthetic-volumes\",\n \"channel_names\": {\"0\": \"MRI\"},\n \"labels\": {\(names)},\n \"numTraining\": \(cases),\n \"seed\": \(seed)\n}\n"
        try Data(json.utf8).write(to: URL(fileURLWithPath: root + "/dataset.json"), options: .atomic)
    }

    /// Case `index`: intensities (x fastest) and labels.
    public static func example(size: Int, slices: Int, spacing: [Double], seed: UInt64, index: Int) -> (image: [Float], mask: [UInt8]) {
        var rng = SeededGenerator(seed: seed &* 0x51_7CC1_B727_220A &+ UInt64(index) &+ 0xC0FFEE)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.next() >> 11) / Double(1 << 53) }
        let extent = [Double(size) * spacing[0], Double(size) * spacing[1], Double(slices) * spacing[2]]
        let centre = extent.map { $0 * uniform(0.4, 0.6) }
        let radii = [extent[0] * uniform(0.2, 0.3), extent[1] * uniform(0.18, 0.28), extent[2] * uniform(0.25, 0.35)]
        // The lesion: inside the organ, 3-6 mm across.
        let lesionRadius = uniform(3, 6)
        let lesion = (0..<3).map { centre[$0] + radii[$0] * uniform(-0.4, 0.4) }
        let drift = (uniform(0, 6.28), uniform(0, 6.28))
        var image = [Float](repeating: 0, count: size * size * slices), mask = [UInt8](repeating: 0, count: size * size * slices)
        for z in 0..<slices { for y in 0..<size { for x in 0..<size {
            let p = [(Double(x) + 0.5) * spacing[0], (Double(y) + 0.5) * spacing[1], (Double(z) + 0.5) * spacing[2]]
            var organ = 0.0, near = 0.0
            for a in 0..<3 { organ += pow((p[a] - centre[a]) / radii[a], 2); near += pow(p[a] - lesion[a], 2) }
            let v = (z * size + y) * size + x
            var value = 0.25 + 0.05 * sin(p[0] / 9 + drift.0) * cos(p[1] / 11 + drift.1)
            if organ < 1 { mask[v] = 1; value = 0.55 }
            if organ < 1 && near < lesionRadius * lesionRadius { mask[v] = 2; value = 0.8 }
            // Box-Muller noise, sigma 0.04.
            let u = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12), w = Double(rng.next() >> 11) / Double(1 << 53)
            image[v] = Float((value + 0.04 * (-2 * log(u)).squareRoot() * cos(2 * Double.pi * w)) * 1000)
        } } }
        return (image, mask)
    }
}
