import ArgumentParser
import Foundation
import Engine

/// The options every command uses to name a model: a model file, or a preset (random weights).
struct ModelOptions: ParsableArguments {
    @Option(help: "Architecture preset instead of a model file (random weights): \(ArchitecturePreset.all.map { $0.name }.joined(separator: ", ")).")
    var preset: String?

    @Option(help: "Input channels for --preset (default 1).")
    var inChannels: Int = 1

    @Option(help: "Output classes for --preset: 1 for a binary mask, or the number of classes including background.")
    var classes: Int = 1

    @Flag(help: "Multi-label: --classes independent sigmoid outputs, one per label, whose masks may overlap (UW-Madison's stomach and bowels); train reads masks/LABEL/ folders, multi-channel masks or train.csv, and sets --classes from the data.")
    var multilabel = false

    @Option(help: "Seed of the random weights for --preset.")
    var seed: UInt64 = 0

    @Option(help: "Override the preset's base width (channels of the first level).")
    var baseWidth: Int?

    @Option(help: "Override the preset's depth (number of 2x down-steps).")
    var depth: Int?

    @Flag(help: "Add a squeeze-and-excitation block (reduction 16) to every level block of --preset (U-Net, Res-UNet and Attention U-Net presets).")
    var se = false

    @Flag(help: "Add UNet 3+'s classification-guided module to --preset unet3plus-s: a presence head on the bottleneck that closes the classes an image lacks, trained with its own binary cross-entropy.")
    var cgm = false

    @Flag(help: "Deep supervision for --preset: a U-Net (2D or 3D, depth 3 or more) gets auxiliary heads on decoder levels 1 ... depth - 2, weighed into the training loss (each level half the one above, as nnU-Net) and dropped at inference and export; the U-Net++ and UNet 3+ presets have theirs already.")
    var deepSupervision = false

    @Option(help: "Override the preset's normalization: batch, instance or none.")
    var norm: String?

    @Option(help: "Override the preset's up path: transpose or bilinear.")
    var upsampling: String?

    func validate() throws {
        if inChannels < 1 { throw ValidationError("--in-channels must be at least 1") }
        if classes < 1 { throw ValidationError("--classes must be at least 1") }
        if multilabel && classes > 8 { throw ValidationError("--multilabel takes up to 8 labels") }
        if multilabel && cgm { throw ValidationError("--cgm gates softmax and binary heads; it does not combine with --multilabel") }
        if let norm, Normalization(rawValue: norm) == nil { throw ValidationError("--norm takes batch, instance or none") }
        if let upsampling, UpsamplingKind(rawValue: upsampling) == nil { throw ValidationError("--upsampling takes transpose or bilinear") }
        if let preset, (try? ArchitecturePreset.named(preset)) == nil {
            throw ValidationError("unknown preset '\(preset)'; presets: \(ArchitecturePreset.all.map { $0.name }.joined(separator: ", "))")
        }
    }

    /// A fresh model from `--preset`.
    func presetModel(_ name: String, adjust: (inout ArchitectureConfig) -> Void = { _ in }) throws -> Model {
        do {
            var config = try ArchitecturePreset.named(name).config
            config.inChannels = inChannels
            config.classes = classes
            config.seed = seed
            if let baseWidth { config.baseWidth = baseWidth }
            if let depth { config.depth = depth }
            if let norm { config.normalization = Normalization(rawValue: norm)! }
            if let upsampling { config.upsampling = UpsamplingKind(rawValue: upsampling)! }
            config.squeezeExcitation = se
            config.classificationGuided = cgm
            if deepSupervision { config.deepSupervision = true }
            adjust(&config)
            var model = try Model(config: config, preset: name)
            if multilabel {
                model.metadata[MetadataKey.multilabel] = .int(1)
                model.metadata[MetadataKey.classNames] = .strings(["background"] + (1...classes).map { "label\($0)" })
            }
            return model
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// Loads `path`, or builds the preset when no path is given.
    func load(_ path: String?) throws -> (model: Model, label: String, fileBytes: Int?) {
        if let path {
            if preset != nil { throw CLIError("give a model file or --preset, not both") }
            return (try loadModelFile(path), path, fileSize(path))
        }
        guard let preset else { throw CLIError("name a model file, or a preset with --preset") }
        return (try presetModel(preset), "preset \(preset) (random weights)", nil)
    }
}

func loadModelFile(_ path: String) throws -> Model {
    do {
        return try FileIO.readModel(path)
    } catch {
        throw CLIError("\(path): \(error)")
    }
}

func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
}

/// "HxW" or "DxHxW": the spatial axes of an image or volume input, each positive.
func parseSpatialSize(_ text: String) -> [Int]? {
    let parts = text.lowercased().split(separator: "x").map { Int($0) }
    guard (2...3).contains(parts.count), parts.allSatisfy({ (1...maxSide).contains($0 ?? 0) }) else { return nil }
    return parts.map { $0! }
}

/// "HxW" or "S" (square).
func parseSize(_ text: String) -> (height: Int, width: Int)? {
    let parts = text.lowercased().split(separator: "x").map { Int($0) }
    guard !parts.isEmpty, parts.allSatisfy({ (1...maxSide).contains($0 ?? 0) }) else { return nil }
    if parts.count == 1 { return (parts[0]!, parts[0]!) }
    if parts.count == 2 { return (parts[0]!, parts[1]!) }
    return nil
}

/// The largest side `--size` takes: the arithmetic of padding a side to the model's multiple stays far from
/// overflow, and what the memory cannot hold is refused when the plan is made (`MemoryBudget`).
let maxSide = 65536

/// `--thresholds T1,T2,...` on a multi-label model: one probability threshold per label, kept in its metadata for
/// the run (nil leaves the model's own).
func applyLabelThresholds(_ text: String?, to model: inout Model) throws {
    guard let text else { return }
    guard model.isMultilabel else { throw CLIError("--thresholds sets one threshold per label of a multi-label model; this model is not one") }
    let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard values.count == model.classes, values.allSatisfy({ $0 != nil && $0! > 0 && $0! < 1 }) else {
        throw CLIError("--thresholds takes \(model.classes) probabilities between 0 and 1, comma-separated (one per label), got '\(text)'")
    }
    model.metadata[MetadataKey.thresholds] = .floats(values.map { $0! })
}
