import ImageIO
import Kernels

/// A picture of a label volume over its image: the axial, coronal and sagittal slices through the labels'
/// centre of mass (the volume's centre when there are none) side by side, each in display orientation with
/// the labels tinted, scaled to the physical aspect of the voxels.
public enum VolumeMontage {
    /// RGB pixels and their size. `windowed` holds the image in [0, 1] (channel 0 is drawn).
    public static func render(_ windowed: Volume, labels: LabelVolume, height target: Int = 256) -> (rgb: [UInt8], width: Int, height: Int) {
        render(spacing: windowed.spacing, labels: labels, height: target) { windowed.slice($1, along: $0) }
    }

    /// The montage of a volume file read slice by slice, drawn in the standard window: only the three
    /// sections are kept.
    public static func render(_ reader: VolumeReader, labels: LabelVolume, height target: Int = 256) throws -> (rgb: [UInt8], width: Int, height: Int) {
        let size = reader.grid.size, (nx, ny, nz) = (size[0], size[1], size[2])
        let at = centre(labels)
        let slices = try StreamedSlices(reader, windows: [.standard], target: nil)
        var axial: [Float] = [], coronal = [Float](repeating: 0, count: nx * nz), sagittal = [Float](repeating: 0, count: ny * nz)
        for z in 0..<nz {
            let plane = try slices.planes(z)
            if z == at[2] { axial = Array(plane.prefix(nx * ny)) }
            for x in 0..<nx { coronal[z * nx + x] = plane[at[1] * nx + x] }
            for y in 0..<ny { sagittal[z * ny + y] = plane[y * nx + at[0]] }
        }
        // Image rows run down the row axis (see `SliceAxis`).
        func section(_ axis: SliceAxis, _ s: Int) -> [Float] {
            let (source, w, h): ([Float], Int, Int) = axis == .z ? (axial, nx, ny) : axis == .y ? (coronal, nx, nz) : (sagittal, ny, nz)
            var out = [Float](repeating: 0, count: w * h)
            for r in 0..<h { for c in 0..<w { out[r * w + c] = source[(h - 1 - r) * w + c] } }
            return out
        }
        return render(spacing: reader.grid.spacing, labels: labels, height: target, section: section)
    }

    /// Two rows through the same sections (the truth's centre): the truth over the image above, the prediction
    /// below.
    public static func compare(_ windowed: Volume, truth: LabelVolume, predicted: LabelVolume, height target: Int = 200) -> (rgb: [UInt8], width: Int, height: Int) {
        let at = centre(truth)
        let top = render(spacing: windowed.spacing, labels: truth, at: at, height: target) { windowed.slice($1, along: $0) }
        let bottom = render(spacing: windowed.spacing, labels: predicted, at: at, height: target) { windowed.slice($1, along: $0) }
        let gap = 4, height = 2 * target + gap
        var canvas = [UInt8](repeating: 255, count: top.width * height * 3)
        canvas.replaceSubrange(0..<(top.rgb.count), with: top.rgb)
        canvas.replaceSubrange(((target + gap) * top.width * 3)..<(height * top.width * 3), with: bottom.rgb)
        return (canvas, top.width, height)
    }

    /// The labels' centre of mass, in voxels (the volume's centre when there are none).
    static func centre(_ labels: LabelVolume) -> [Int] {
        let size = labels.size
        var centre = [0.0, 0.0, 0.0], n = 0.0
        for z in 0..<size[2] { for y in 0..<size[1] { for x in 0..<size[0] where labels.labels[(z * size[1] + y) * size[0] + x] != 0 {
            centre[0] += Double(x); centre[1] += Double(y); centre[2] += Double(z); n += 1
        } } }
        return (0..<3).map { n > 0 ? Int(centre[$0] / n) : size[$0] / 2 }
    }

    /// The montage of the sections `section(axis, s)` (windowed pixels, image rows) through `at` (voxels; by
    /// default the labels' centre).
    static func render(spacing: [Double], labels: LabelVolume, at: [Int]? = nil, height target: Int,
                       section: (SliceAxis, Int) -> [Float]) -> (rgb: [UInt8], width: Int, height: Int) {
        let size = labels.size
        let at = at ?? centre(labels)
        var panels: [(rgb: [UInt8], width: Int, height: Int)] = []
        for axis in [SliceAxis.z, .y, .x] {
            let (w, h) = axis.sliceSize(size)
            let s = at[axis.index]
            let pixels = section(axis, s)
            let image = Image(width: w, height: h, channels: 1, samples: pixels)
            let rgb = Overlay.render(image, labels: labels.slice(s, along: axis), style: .tint)
            // Physical aspect: columns and rows scaled by their spacing, to `target` rows.
            let (cAxis, rAxis) = axis.inPlane
            let physicalWidth = Double(w) * spacing[cAxis], physicalHeight = Double(h) * spacing[rAxis]
            let outH = target, outW = max(1, Int((Double(target) * physicalWidth / max(physicalHeight, 1e-9)).rounded()))
            var scaled = [UInt8](repeating: 0, count: outW * outH * 3)
            for r in 0..<outH {
                let sr = F32Upsample.nearestSource(r, inSize: h, outSize: outH)
                for c in 0..<outW {
                    let sc = F32Upsample.nearestSource(c, inSize: w, outSize: outW)
                    for k in 0..<3 { scaled[(r * outW + c) * 3 + k] = rgb[(sr * w + sc) * 3 + k] }
                }
            }
            panels.append((scaled, outW, outH))
        }
        let gap = 4
        let width = panels.reduce(0) { $0 + $1.width } + gap * (panels.count - 1)
        var canvas = [UInt8](repeating: 255, count: width * target * 3)
        var x0 = 0
        for p in panels {
            for r in 0..<p.height { for c in 0..<p.width { for k in 0..<3 { canvas[(r * width + x0 + c) * 3 + k] = p.rgb[(r * p.width + c) * 3 + k] } } }
            x0 += p.width + gap
        }
        return (canvas, width, target)
    }
}
