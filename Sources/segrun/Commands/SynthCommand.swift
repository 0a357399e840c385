import ArgumentParser
import Foundation
import Engine
import ImageIO
import Train

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Make a synthetic segmentation dataset with exact masks (images/, masks/, dataset.json).",
        discussion: HelpText.discussion("""
            lesion: ISIC-like RGB skin images with one irregular pigmented lesion, hairs and vignetting; masks 0/255.
            organs: CT-like grey images with up to three organ blobs in a body; masks hold class ids 0-3.
            nuclei: fluorescence-like grey images of touching nuclei; masks hold 0 background, 1 interior,
            2 boundary (for a boundary-aware instance model), instances/NAME.png the 16-bit instance label maps.
            gi-tract: abdominal MRI-like scans in the UW-Madison GI tract layout (caseN/caseN_day0/scans/
            slice_K_W_H_1.50_1.50.png, 16-bit, and train.csv with run-length masks of large_bowel, small_bowel and
            stomach, which overlap): --count scans of --slices slices, for segrun train --multilabel.
            volumes: CT-like NRRD volumes (images/caseNNN.nrrd, masks/caseNNN.nrrd) of --size x --size x --slices
            voxels at 1 x 1 x 2.5 mm: an ellipsoid organ (label 1) holding a small brighter lesion (label 2), for the
            3D networks (segrun plan, segrun train --preset unet3d-xs).

            Examples:
              segrun synth --out data/lesions --count 200 --seed 1 --kind lesion --size 128
              segrun synth --out data/gi --count 6 --slices 24 --size 64 --kind gi-tract
              segrun synth --out data/vol --count 6 --slices 24 --size 64 --kind volumes
            """))

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Number of images.")
    var count: Int = 100

    @Option(help: "Seed: the same seed gives the same images.")
    var seed: UInt64 = 0

    @Option(help: "Image side in pixels.")
    var size: Int = 256

    @Option(help: "lesion, organs, nuclei, gi-tract or volumes.")
    var kind: String = "lesion"

    @Option(help: "gi-tract and volumes: slices per scan or volume (--count is the number of scans or volumes).")
    var slices: Int = 24

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if size < 16 || size > 4096 { throw ValidationError("--size must be 16...4096") }
        if SyntheticData.Kind(rawValue: kind) == nil && kind != "gi-tract" && kind != "volumes" { throw ValidationError("--kind takes lesion, organs, nuclei, gi-tract or volumes") }
        if slices < 1 { throw ValidationError("--slices must be at least 1") }
    }

    func run() throws {
        if kind == "volumes" {
            // 3D: --count NRRD volumes of --size x --size x --slices voxels at 1 x 1 x 2.5 mm.
            try SyntheticVolumes.write(to: out, cases: count, size: size, slices: slices, seed: seed)
            print("wrote \(count) volume(s) of \(size)x\(size)x\(slices) voxels at 1 x 1 x 2.5 mm (\(SyntheticVolumes.labels.dropFirst().joined(separator: ", "))) to \(out)")
            return
        }
        if kind == "gi-tract" {
            // The UW-Madison layout: --count scans of --slices slices, train.csv with overlapping labels.
            try BinaryFile.makeFolders(out)
            try SyntheticGITract.write(to: out, cases: count, slices: slices, size: size, seed: seed)
            print("wrote \(count) scan(s) of \(slices) 16-bit slices and train.csv (\(SyntheticGITract.labels.joined(separator: ", ")); overlapping) to \(out)")
            return
        }
        let kind = SyntheticData.Kind(rawValue: self.kind)!
        for sub in ["images", "masks"] + (kind == .nuclei ? ["instances"] : []) {
            try BinaryFile.makeFolders(out + "/" + sub)
        }
        let progress = ProgressBar(total: count, label: "synth")
        for i in 0..<count {
            let e = SyntheticData.example(kind, size: size, seed: seed, index: i)
            let name = String(format: "%@_%05d.png", kind.rawValue, i)
            try ImageFile.writePNG(e.image, width: size, height: size, channels: e.channels, to: out + "/images/" + name)
            let mask = kind == .lesion ? e.mask.map { $0 == 0 ? UInt8(0) : 255 } : e.mask
            try ImageFile.writePNG(mask, width: size, height: size, channels: 1, to: out + "/masks/" + name)
            if let instances = e.instances { try ImageFile.writePNG16(instances, width: size, height: size, to: out + "/instances/" + name) }
            progress.update(i + 1)
        }
        let classes = switch kind {
        case .lesion: "[\"background\", \"lesion\"]"
        case .organs: "[\"background\", \"organ A\", \"organ B\", \"organ C\"]"
        case .nuclei: "[\"background\", \"interior\", \"boundary\"]"
        }
        let json = "{\n \"name\": \"synthetic-\(kind.rawValue)\",\n \"classes\": \(classes),\n \"count\": \(count),\n \"seed\": \(seed),\n \"size\": \(size)\n}\n"
        try Data(json.utf8).write(to: URL(fileURLWithPath: out + "/dataset.json"), options: .atomic)
        print("wrote \(count) \(kind.rawValue) images and masks to \(out)")
    }
}
