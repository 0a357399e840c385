import ArgumentParser
import Foundation
import ImageIO
import Volumes
import Train
import Engine

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

            With --preset of a 3D network it also plans that network for the data: the kernels and pooling of each
            level (res-unet3d-s follows the spacing as nnU-Net's planner does: kernel 1 and no pooling on an axis
            whose spacing is 2x or more the finest, until pooling catches it up; 3x3x3 at the bottleneck) and the
            training patch: the median case at the target spacing, its physically longest axis shrunk until a
            training step of --batch patches fits --memory (default 1024 MiB: activations and their gradients,
            plus a third for transient buffers; a 2-core machine with 24 GiB is limited by time before memory,
            and 1 GiB gives unet3d-s patches of about 64^3).

            Examples:
              segrun plan volumes/
              segrun plan nnUNet_raw/Dataset001_Liver --json
              segrun plan runs/brain-volume --preset res-unet3d-s
            """))

    @Argument(help: "Dataset folder of volumes.")
    var data: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Also plan this 3D network for the data (topology and training patch).")
    var preset: String?

    @Option(help: "With --preset: memory for one training step, MiB.")
    var memory: Int = 1024

    @Option(help: "With --preset: patches per training step.")
    var batch: Int = 2

    func run() throws {
        let cases: [VolumeCase]
        do { cases = try VolumeDataset.scan(data) } catch { throw CLIError("\(error)") }
        var grids: [VolumeGrid] = []
        for c in cases {
            do { grids.append(try VolumeFile.open(c.mask ?? c.images[0]).grid) } catch { throw CLIError("\(error)") }  // the header only
        }
        if grids.isEmpty { throw CLIError("\(data): no volumes") }
        let plan = VolumePlan(grids: grids)
        // Spacings and sizes as training sees them: in the plan's orientation.
        let (spacings, sizes, units) = (plan.spacings, plan.sizes, grids.map(\.units))
        let orientations = grids.map { VolumeOrientation(affine: $0.affine).description }
        // The intensity fingerprint per channel (foreground voxels) and the normalization training will use.
        let channels = cases.map(\.images.count).max() ?? 1
        var fingerprints: [ForegroundIntensities?] = []
        let windows: [IntensityWindow]
        do {
            for c in 0..<channels { fingerprints.append(ForegroundIntensities(try ForegroundIntensities.sample(cases, channel: c))) }
            windows = try SegmentationDataset.intensityWindows(data, cases)
        } catch { throw CLIError("\(error)") }
        func window(_ c: Int) -> String { windows[min(c, windows.count - 1)].description }
        let resampled = plan.resampledSizes
        let bytes = resampled.reduce(0) { $0 + $1.reduce(1, *) } * 4 * max(1, cases.first?.images.count ?? 1)
        let unit = units.first { !$0.isEmpty } ?? "mm"
        func triple(_ v: [Double]) -> String { v.map { String(format: "%g", $0) }.joined(separator: " x ") }
        func dims(_ v: [Int]) -> String { v.map(String.init).joined(separator: " x ") }
        if json {
            let list = cases.indices.map { i in
                JSON.object([("case", JSON.string(cases[i].name)), ("size", "[" + sizes[i].map(String.init).joined(separator: ", ") + "]"),
                             ("spacing", "[" + spacings[i].map { String(format: "%g", $0) }.joined(separator: ", ") + "]"),
                             ("resampled_size", "[" + resampled[i].map(String.init).joined(separator: ", ") + "]"),
                             ("orientation", JSON.string(orientations[i]))])
            }
            print(JSON.object([("cases", "[" + list.joined(separator: ", ") + "]"),
                               ("target_spacing", "[" + plan.target.map { String(format: "%g", $0) }.joined(separator: ", ") + "]"),
                               ("axis", JSON.string(plan.axis.rawValue)), ("units", JSON.string(unit)), ("resampled_bytes", "\(bytes)"),
                               ("orientation", JSON.string(plan.orientation?.description ?? "")),
                               ("channels", "[" + (0..<channels).map { c in
                                   let f = fingerprints[c]
                                   func n(_ v: Double?) -> String { v.map { String(format: "%g", $0) } ?? "null" }
                                   return JSON.object([("normalization", JSON.string(window(c))), ("foreground_voxels", "\(f?.count ?? 0)"),
                                                       ("mean", n(f?.mean)), ("std", n(f?.std)), ("min", n(f.map { Double($0.minimum) })),
                                                       ("max", n(f.map { Double($0.maximum) })), ("p0_5", n(f.map { Double($0.low) })),
                                                       ("p99_5", n(f.map { Double($0.high) }))])
                               }.joined(separator: ", ") + "]")]))
            return
        }
        let orientation = plan.orientation?.description ?? "RAS"
        print("\(cases.count) case(s) in \(data); spacings in \(unit), axes in the first case's orientation \(orientation)")
        for i in cases.indices {
            let turned = orientations[i] == orientation ? "" : " (stored \(orientations[i]))"
            print("  \(cases[i].name): \(dims(sizes[i])) voxels at \(triple(spacings[i]))\(turned) -> \(dims(resampled[i]))")
        }
        print("target spacing \(triple(plan.target)) \(unit); 2D models slice along \(plan.axis.rawValue) "
              + "(\(resampled.reduce(0) { $0 + plan.axis.count($1) }) slices); resampled volumes take \(Format.bytes(bytes))")
        if let preset { try planNetwork(preset, spacing: Array(plan.target.reversed()), sizes: resampled, channels: channels) }
        for c in 0..<channels {
            let stats = fingerprints[c].map {
                String(format: "foreground voxels (%d sampled): mean %.4g, std %.4g, range %.4g to %.4g, 0.5-99.5%% %.4g to %.4g",
                       $0.count, $0.mean, $0.std, $0.minimum, $0.maximum, $0.low, $0.high)
            } ?? "no foreground voxels"
            print("channel \(c): \(stats); normalized by \(window(c))")
        }
    }

    /// Prints a 3D preset planned for data of `spacing` (D, H, W) and resampled `sizes` (x, y, z per case).
    func planNetwork(_ name: String, spacing: [Double], sizes: [[Int]], channels: Int) throws {
        let preset: ArchitecturePreset
        do { preset = try ArchitecturePreset.named(name) } catch { throw CLIError("\(error)") }
        var config = preset.config
        if config.spatialRank != 3 { throw CLIError("--preset \(name) is a 2D network; plan sizes 3D ones (unet3d-s, vnet-s, res-unet3d-s)") }
        config.inChannels = channels
        if preset.followsSpacing {
            let topology = NetworkPlan(spacing: spacing, depth: config.depth)
            (config.levelKernels, config.levelPools) = (topology.levelKernels, topology.levelPools)
        }
        func median(_ v: [Int]) -> Int { v.sorted()[v.count / 2] }
        let medianSize = [median(sizes.map { $0[2] }), median(sizes.map { $0[1] }), median(sizes.map { $0[0] })]
        do {
            let graph = try config.build()
            let (patch, bytes) = try NetworkPlan.patch(graph, channels: channels, multiple: config.inputMultiple, median: medianSize, spacing: spacing,
                                                       batch: batch, budget: memory << 20)
            print("\(name) for this data (z, y, x):")
            for level in 0...config.depth {
                let pool = level < config.depth ? "  then pool " + config.pool(level).map(String.init).joined(separator: "x") : "  (bottleneck)"
                print("  level \(level): \(config.width(level)) channels, kernels " + config.kernel(level).map(String.init).joined(separator: "x") + pool)
            }
            print("  training patch " + patch.map(String.init).joined(separator: "x") + " (median case " + medianSize.map(String.init).joined(separator: "x")
                  + ") at batch \(batch): about \(Format.bytes(bytes)) per step (budget \(memory) MiB)")
        } catch { throw CLIError("\(error)") }
    }
}
