import ArgumentParser
import Engine

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a model file for a preset with freshly initialized (random) weights.",
        discussion: HelpText.discussion("""
            Example:
              segrun init --preset unet-s --out unet-s.segrun
              segrun init --preset unet-s --classes 3 --out tissue.segrun
            """))

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Output model file.")
    var out: String

    @Option(help: "Keep only this deep-supervision head (U-Net++ fast mode), e.g. head2.")
    var keepHead: String?

    func validate() throws {
        if modelOptions.preset == nil { throw ValidationError("--preset is required") }
    }

    func run() throws {
        var model = try modelOptions.presetModel(modelOptions.preset!)
        try prepareOutputFile(out)
        if let keepHead {
            guard model.graph.outputs.contains(where: { $0.name == keepHead }) else {
                throw CLIError("the model has no output '\(keepHead)'; outputs: \(model.graph.outputs.map { $0.name }.joined(separator: ", "))")
            }
            model.graph = model.graph.keepingOutputs([keepHead])
        }
        do {
            try FileIO.writeModel(model, to: out)
        } catch {
            throw CLIError("\(error)")
        }
        print("wrote \(out): \(modelOptions.preset!), \(Format.count(Double(model.graph.parameterCount))) parameters, \(Format.bytes(fileSize(out) ?? 0))")
    }
}
