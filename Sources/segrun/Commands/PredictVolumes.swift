import Foundation
import Engine
import ImageIO
import Volumes
import Instances

/// `segrun predict` on NIfTI and NRRD volumes: each volume runs slice by slice through a 2D model, or by
/// Gaussian sliding windows through a 3D one, and its label volume is written on the input's grid, in the
/// input's geometry and format.
extension PredictCommand {
    /// Writes `<out>/<stem>.nii.gz` (or `.nrrd`) for each volume, and `<stem>_montage.png` with `--overlay`.
    /// Returns each volume's outcome (failures already reported); with --fail-fast it stops at the first failure.
    func predictVolumes(_ paths: [String], segmenter: Segmenter, options: InferenceOptions) -> [(input: String, error: String?)] {
        var results: [(input: String, error: String?)] = []
        let out = outputFolder
        let axis = self.axis.flatMap(SliceAxis.init(rawValue:))
        for (index, path) in paths.enumerated() {
            let start = Date()
            do {
                if segmenter.model.isMultilabel { throw CLIError("\(path): multi-label models predict images (PNG slices, as UW-Madison's), not volumes yet") }
                // Streamed slice by slice along z; read whole for another axis (see VolumeSegmentation).
                let reader = try VolumeFile.open(path)
                let volume = reader.grid
                var run = VolumeSegmentation(segmenter: segmenter, axis: axis, options: options, batch: batch)
                if let window { run.windows = IntensityWindow.list(window)! }
                if let spacing = self.spacing {
                    let parts = spacing.split(separator: "x").compactMap { Double($0) }
                    guard (parts.count == 1 || parts.count == 3), parts.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                        throw CLIError("--spacing takes X or XxYxZ (positive), got '\(spacing)'")
                    }
                    run.spacing = parts.count == 1 ? [parts[0], parts[0], parts[0]] : parts
                }
                let used = run.slicingAxis(size: volume.size, spacing: volume.spacing)
                var progress: ProgressBar? = nil
                let stem = VolumeDataset.volumeStem(path)
                let ending = NRRD.looksLikeNRRD(path) ? ".nrrd" : ".nii.gz"
                // --probabilities: float32 volumes written as the slices come (STEM_prob, or STEM_probK per class).
                let classes = segmenter.model.classes
                let writers = try self.probabilities ? (0..<classes).map { c in
                    try VolumeWriter(.float32, like: volume, to: out + "/" + stem + (classes == 1 ? "_prob" : "_prob\(c)") + ending)
                } : []
                let plane = volume.size[0] * volume.size[1]
                let sink: ((Int, [Float]) throws -> Void)? = writers.isEmpty ? nil : { _, p in
                    for (c, writer) in writers.enumerated() { try writer.append(.float32(Array(p[(c * plane)..<((c + 1) * plane)]))) }
                }
                var labels = try run.labels(reader, probabilities: sink) { done, total in
                    if progress == nil { progress = ProgressBar(total: total, label: "\((path as NSString).lastPathComponent) (\(index + 1)/\(paths.count))") }
                    progress!.update(done)
                }
                if largestComponent { labels.labels = ConnectedComponents.keepingLargest(labels.labels, size: volume.size.reversed()) }
                let target = out + "/" + stem + ending
                for writer in writers { try writer.commit() }
                try VolumeFile.write(.uint8(labels.labels), like: volume, to: target)
                var instanceNote = ""
                if instances {
                    let found = instanceOptions.instances(volume: labels.labels, size: volume.size, spacing: volume.spacing)
                    if found.count > Int(UInt16.max) { throw CLIError("\(path): \(found.count) instances do not fit a 16-bit label volume") }
                    try VolumeFile.write(.uint16(found.labels.map { UInt16($0) }), like: volume, to: out + "/" + stem + "_instances" + ending)
                    instanceNote = "; \(found.count) instance(s)"
                }
                if overlay {
                    // Drawn in the display window whatever the model's input normalization.
                    let montage = try VolumeMontage.render(reader, labels: labels)
                    try ImageFile.writePNG(montage.rgb, width: montage.width, height: montage.height, channels: 3,
                                           to: out + "/" + stem + "_montage.png")
                }
                let foreground = labels.labels.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }
                let voxelSpacing = volume.spacing.map { String(format: "%g", $0) }.joined(separator: "x")
                let how = segmenter.model.inputSpatialRank == 3
                    ? "by sliding windows of " + (options.tile.map { "\($0)x\($0)x\($0)" } ?? (segmenter.model.inputPatch ?? [64, 64, 64]).map(String.init).joined(separator: "x"))
                    : "\(used.count(volume.size)) slices along \(used.rawValue)"
                print(String(format: "%@: %@ voxels at %@ %@, %@ in %.2f s; foreground %.2f%%%@; peak memory %@ -> %@", path,
                             volume.size.map(String.init).joined(separator: "x"), voxelSpacing, volume.units.isEmpty ? "(units not given)" : volume.units,
                             how, Date().timeIntervalSince(start),
                             100 * Double(foreground) / Double(max(1, labels.labels.count)), instanceNote, Format.bytes(PeakMemory.bytes), target))
                results.append((path, nil))
            } catch {
                let message = failureMessage(path, error)
                results.append((path, message))
                FileHandle.standardError.write("error: \(message)\n".data(using: .utf8)!)
                if failFast { break }
            }
        }
        return results
    }
}
