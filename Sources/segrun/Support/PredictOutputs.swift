import Foundation
import Engine
import ImageIO
import Volumes

/// The files `segrun predict` writes for one input, by name: what `--resume` checks for and a shard summary
/// lists. An image `NAME.png` gives `NAME.png` (the mask), `NAME_prob.png` or `NAME_probK.png` with
/// --probabilities, `NAME_overlay.png` with --overlay, `NAME_instances.png` with --instances; a volume gives `NAME.nii.gz` (or `.nrrd`), its
/// probability volumes and `NAME_montage.png`.
struct OutputNames {
    let classes: Int
    let probabilities: Bool
    let overlay: Bool
    let instances: Bool
    /// A multi-label model's label names: one mask per label beside the label-bits mask.
    let labelNames: [String]

    init(model: Model, probabilities: Bool, overlay: Bool, instances: Bool = false) {
        self.classes = model.classes
        labelNames = model.labelFileNames
        self.probabilities = probabilities
        self.overlay = overlay
        self.instances = instances
    }

    static func stem(_ path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The output files of `input`, relative to the output folder.
    func of(_ input: String) -> [String] {
        let probabilitySuffixes = probabilities ? (classes == 1 ? ["_prob"] : (0..<classes).map { "_prob\($0)" }) : []
        if VolumeFile.looksLikeVolume(input) {
            let stem = VolumeDataset.volumeStem(input)
            let ending = NRRD.looksLikeNRRD(input) ? ".nrrd" : ".nii.gz"
            return [stem + ending] + probabilitySuffixes.map { stem + $0 + ending } + (overlay ? [stem + "_montage.png"] : [])
        }
        let stem = OutputNames.stem(input)
        return [stem + ".png"] + labelNames.map { stem + "_" + $0 + ".png" } + probabilitySuffixes.map { stem + $0 + ".png" }
            + (overlay ? [stem + "_overlay.png"] : [])
            + (instances ? [stem + "_instances.png"] : [])
    }

    /// Two inputs whose outputs would overwrite each other (`a/scan.png` and `b/scan.png`) are refused before
    /// anything runs: the second would silently replace the first, and a resumed run would skip it.
    func checkDistinct(_ inputs: [String]) throws {
        var owner: [String: String] = [:]
        for input in inputs {
            for name in of(input) {
                if let first = owner[name], first != input {
                    throw CLIError("\(first) and \(input) would both write \(name): give them different names, or predict them into different folders")
                }
                owner[name] = input
            }
        }
    }
}

/// An error as one line (for shard summaries and logs).
func oneLine(_ error: Error) -> String {
    "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
}

/// `error` on one line, naming `input` unless it already does (file errors name their file; a shape the model
/// does not take does not).
func failureMessage(_ input: String, _ error: Error) -> String {
    let line = oneLine(error)
    return line.hasPrefix(input) ? line : "\(input): \(line)"
}
