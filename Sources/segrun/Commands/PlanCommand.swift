import ArgumentParser
import Foundation
import ImageIO
import Volumes

/// `segrun plan`: the fingerprint of a dataset of volumes and what training will do with it.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show a volume dataset's fingerprint and training plan: spacings, sizes, target spacing, slicing axis, memory.",
        discussion: HelpText.discussion("""
            Reads every case of a dataset of volumes (images/ and masks/, or nnU-Net's imagesTr/ and labelsTr/)
            and prints each case's size and spacing, the target spacing training resamples every case to (the
            median per axis; on strongly anisotropic data, more than 3x between the coarsest and finest median,
            the 10th percentile for the coarse axis, as nnU-Net chooses it), the sizes after resampling, the
            axis a 2D model slices along (the coarsest), and the memory the resampled float32 volumes take.

            Examples:
              segrun plan volumes/
              segrun plan nnUNet_raw/Dataset001_Liver --json
            """))

    @Argument(help: "Dataset folder of volumes.")
    var data: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let cases: [VolumeCase]
        do { cases = try VolumeDataset.scan(data) } catch { throw CLIError("\(error)") }
        var spacings: [[Double]] = [], sizes: [[Int]] = [], units: [String] = []
        for c in cases {
            let v: Volume
            do { v = try VolumeFile.read(c.mask ?? c.images[0]) } catch { throw CLIError("\(error)") }
            spacings.append(v.spacing)
            sizes.append(v.size)
            units.append(v.units)
        }
        let plan = VolumePlan(spacings: spacings, sizes: sizes)
        let resampled = plan.resampledSizes
        let bytes = resampled.reduce(0) { $0 + $1.reduce(1, *) } * 4 * max(1, cases.first?.images.count ?? 1)
        let unit = units.first { !$0.isEmpty } ?? "mm"
        func triple(_ v: [Double]) -> String { v.map { String(format: "%g", $0) }.joined(separator: " x ") }
        func dims(_ v: [Int]) -> String { v.map(String.init).joined(separator: " x ") }
        if json {
            let list = cases.indices.map { i in
                JSON.object([("case", JSON.string(cases[i].name)), ("size", "[" + sizes[i].map(String.init).joined(separator: ", ") + "]"),
                             ("spacing", "[" + spacings[i].map { String(format: "%g", $0) }.joined(separator: ", ") + "]"),
                             ("resampled_size", "[" + resampled[i].map(String.init).joined(separator: ", ") + "]")])
            }
            print(JSON.object([("cases", "[" + list.joined(separator: ", ") + "]"),
                               ("target_spacing", "[" + plan.target.map { String(format: "%g", $0) }.joined(separator: ", ") + "]"),
                               ("axis", JSON.string(plan.axis.rawValue)), ("units", JSON.string(unit)), ("resampled_bytes", "\(bytes)")]))
            return
        }
        print("\(cases.count) case(s) in \(data); spacings in \(unit)")
        for i in cases.indices {
            print("  \(cases[i].name): \(dims(sizes[i])) voxels at \(triple(spacings[i])) -> \(dims(resampled[i]))")
        }
        print("target spacing \(triple(plan.target)) \(unit); 2D models slice along \(plan.axis.rawValue) "
              + "(\(resampled.reduce(0) { $0 + plan.axis.count($1) }) slices); resampled volumes take \(Format.bytes(bytes))")
    }
}
