import Foundation
import Engine

/// The files a training run keeps in its folder, each written through a rename so an interrupted run loses
/// nothing: `last.segrun` (and `best.segrun` when validation improved), `state.bin` (epoch, step, optimizer
/// moments: an exact resume), `log.jsonl` (one record per epoch) and `curves.svg`.
enum TrainingFiles {
    /// Writes the checkpoint and returns the model as written (its graph and training metadata updated).
    static func checkpoint(_ directory: String, model: Model, graph: Graph, optimizer: Optimizer, state: TrainingState, improved: Bool,
                           classNames: [String]) throws -> Model {
        var current = model
        current.graph = graph
        current.metadata[MetadataKey.trainEpochs] = .int(Int64(state.epochsDone))
        current.metadata[MetadataKey.trainValidationDice] = .float(state.records.last?.validationDice ?? 0)
        try FileIO.writeModel(current, to: directory + "/last.segrun")
        if improved { try FileIO.writeModel(current, to: directory + "/best.segrun") }
        var s = state
        s.momentCounts = optimizer.firstMoments.map { $0.count }
        try FileIO.writeAtomically(try s.encode(first: optimizer.firstMoments, second: optimizer.secondMoments), to: directory + "/state.bin")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var log = ""
        for r in state.records { log += String(decoding: try encoder.encode(r), as: UTF8.self) + "\n" }
        try FileIO.writeAtomically(Array(log.utf8), to: directory + "/log.jsonl")
        try FileIO.writeAtomically(Array(LearningCurves.svg(state.records, classNames: classNames).utf8), to: directory + "/curves.svg")
        return current
    }

    /// Restores the weights, the state and the optimizer's moments of the run in `directory`, when it has one.
    static func resume(_ directory: String, autograd: Autograd, optimizer: Optimizer) throws -> TrainingState? {
        guard FileManager.default.fileExists(atPath: directory + "/state.bin") else { return nil }
        let last = try FileIO.readModel(directory + "/last.segrun")
        for i in 0..<last.graph.parameters.count { autograd.setParameter(i, last.graph.parameters[i].floats) }
        let (saved, first, second) = try TrainingState.decode(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/state.bin"))),
                                                              path: directory + "/state.bin")
        if !first.isEmpty { optimizer.restore(step: saved.optimizerStep, first: first, second: second) }
        return saved
    }
}
