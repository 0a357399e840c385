import Foundation
import Engine
import Kernels

/// What `Quantizer.quantize` should do.
public struct QuantizationOptions {
    public var method: CalibrationMethod = .percentile(99.99)
    /// One weight scale per tensor instead of per output channel.
    public var perTensor = false
    /// Convolutions to keep in fp32, by node name.
    public var keepFloat: [String] = []
    /// Automatic mixed precision: keep the most sensitive convolutions in fp32 until the int8 masks agree
    /// with the fp32 masks on the calibration set to within this Dice budget (nil: off).
    public var autoKeepBudget: Double? = nil
    /// At most this many convolutions are kept in fp32 by the automatic mode.
    public var autoKeepLimit = 8
    public var threads = ParallelFor.coreCount

    public init() {}
}

/// Why quantization failed.
public enum QuantizationError: Error, CustomStringConvertible {
    case emptyCalibrationSet
    case shapeMismatch(String)
    case graph(String)
    case unknownLayer(String)

    public var description: String {
        switch self {
        case .emptyCalibrationSet: return "the calibration set is empty: give at least one image"
        case .shapeMismatch(let s): return "calibration image \(s)"
        case .graph(let s): return s
        case .unknownLayer(let s): return "--keep-fp32: the model has no convolution named '\(s)' (segrun info lists layer names)"
        }
    }
}

/// Post-training quantization: BatchNorm folding and activation fusion, calibration of every activation
/// tensor, symmetric per-channel int8 weights with Int32 biases, optional mixed precision, and a report.
public enum Quantizer {
    /// Nodes the int8 runtime computes in int8 (the others run in fp32 between quantize/dequantize steps).
    public static func isQuantizable(_ node: Node, _ graph: Graph) -> Bool {
        switch node.op.quantizationRole {
        case .int8, .int8SameScale: return true
        case .weighted(_, _, _, let supported): return supported
        case .float: return false
        }
    }

    /// The layers with weights (the ones `--keep-fp32` may name).
    static func isWeighted(_ node: Node) -> Bool {
        if case .weighted = node.op.quantizationRole { return true }
        return false
    }

    /// Quantizes `model` with `calibration` images: normalized NCHW tensors of batch 1, at sizes the model
    /// accepts (a multiple of its input multiple). `progress(done, total)` reports calibration steps.
    public static func quantize(_ model: Model, calibration: [Tensor], options: QuantizationOptions = QuantizationOptions(),
                                progress: ((Int, Int) -> Void)? = nil) throws(QuantizationError) -> (model: Model, report: QuantizationReport) {
        if calibration.isEmpty { throw .emptyCalibrationSet }
        for (i, t) in calibration.enumerated() where t.shape.channels != model.inputChannels || t.shape.batch != 1 {
            throw .shapeMismatch("\(i) has shape \(t.shape); the model takes 1x\(model.inputChannels)xHxW")
        }
        let start = Date()
        let graph = model.graph.optimizedForInference()
        let convNames = Set(graph.nodes.filter(isWeighted).map { $0.name })
        for name in options.keepFloat where !convNames.contains(name) { throw .unknownLayer(name) }

        let histograms = try calibrate(graph, calibration, options.threads, progress)
        let table = tensorParameters(graph, histograms, options.method)
        var kept = options.keepFloat
        var quantized = quantizeWeights(graph, table, keep: Set(kept), perTensor: options.perTensor)
        let probeImages = Array(calibration.prefix(8))
        var report = try QuantizationReport.measure(float: graph, quantized: quantized, table: table, images: probeImages,
                                                    threads: options.threads)
        if let budget = options.autoKeepBudget {
            while report.maskAgreement < 1 - budget && kept.count < options.autoKeepLimit {
                guard let worst = report.layers.filter({ $0.isConvolution && $0.precision == "int8" && !kept.contains($0.name) })
                    .max(by: { $0.sqnrDrop < $1.sqnrDrop }) else { break }
                kept.append(worst.name)
                quantized = quantizeWeights(graph, table, keep: Set(kept), perTensor: options.perTensor)
                report = try QuantizationReport.measure(float: graph, quantized: quantized, table: table, images: probeImages,
                                                        threads: options.threads)
            }
        }
        report.method = options.method.description
        report.keptFloat = kept
        report.calibrationImages = calibration.count
        report.seconds = Date().timeIntervalSince(start)
        for (i, node) in graph.nodes.enumerated() where table[node.name] != nil {
            let h = histograms[i]
            if !(h.maximum - h.minimum > 1e-6) {
                report.warnings.append("'\(node.name)' is constant (\(h.minimum)) on the calibration set; it gets the defined scale \(table[node.name]!.scale)")
            }
        }
        report.unquantizableOps = graph.nodes.filter { !isQuantizable($0, graph) }.map { "\($0.name) (\($0.op.kind))" }

        var out = Model(metadata: model.metadata, graph: quantized)
        out.metadata[MetadataKey.precision] = .string("int8")
        table.write(into: &out.metadata)
        out.metadata[MetadataKey.quantMethod] = .string(options.method.description + (options.perTensor ? ", per-tensor weights" : ", per-channel weights"))
        out.metadata[MetadataKey.quantCalibrationImages] = .int(Int64(calibration.count))
        out.metadata[MetadataKey.quantCalibrationHash] = .string(calibrationHash(calibration))
        out.metadata[MetadataKey.quantKeptFloat] = .strings(kept)
        return (out, report)
    }

    /// Runs the fp32 graph over the calibration set with every node as an output and fills one histogram
    /// per node: ranges from the first images, then histograms over all of them.
    static func calibrate(_ graph: Graph, _ images: [Tensor], _ threads: Int,
                          _ progress: ((Int, Int) -> Void)?) throws(QuantizationError) -> [ActivationHistogram] {
        let probe = graph.exposingEveryNode()
        let executor: Executor
        // One fixed algorithm (not the measured fastest): each convolution algorithm rounds differently, and a
        // choice made by timing would make the histograms, so the scales and the int8 file, differ run to run.
        do { executor = try Executor(probe, threads: threads, policy: .forced(.igemm), optimize: false) } catch { throw .graph("\(error)") }
        var histograms = [ActivationHistogram](repeating: ActivationHistogram(), count: graph.nodes.count)
        let first = min(8, images.count)
        let total = first + images.count
        for i in 0..<first {
            let outputs: [Tensor]
            do { outputs = try executor.run(images[i]) } catch { throw .shapeMismatch("\(i): \(error)") }
            for (n, t) in outputs.enumerated() { histograms[n].observeRange(t.data) }
            progress?(i + 1, total)
        }
        for n in 0..<histograms.count { histograms[n].fixRange() }
        for (i, image) in images.enumerated() {
            let outputs: [Tensor]
            do { outputs = try executor.run(image) } catch { throw .shapeMismatch("\(i): \(error)") }
            for (n, t) in outputs.enumerated() { histograms[n].observe(t.data) }
            progress?(first + i + 1, total)
        }
        return histograms
    }

    /// Parameters for every node but the graph outputs (logits stay float). Max pools and upsamplings
    /// share their input's parameters (they run in them); a convolution read only by a concat takes the
    /// concat's parameters, so the concat copies its bytes instead of requantizing them.
    static func tensorParameters(_ graph: Graph, _ histograms: [ActivationHistogram], _ method: CalibrationMethod) -> ActivationQuantization {
        let outputs = Set(graph.outputs.map { $0.node })
        let uses = graph.useCounts()
        var params = [Q8TensorParameters?](repeating: nil, count: graph.nodes.count)
        for i in 0..<graph.nodes.count where !outputs.contains(i) {
            let (low, high) = method.range(histograms[i])
            params[i] = Q8TensorParameters(low: low, high: high)
        }
        // A convolution read by a concat writes in the concat's parameters (the concat's range contains
        // its own), so the concat copies bytes; its other readers (a max pool, say) take those parameters
        // as they are. A tensor read by several concats shares with the first; the others requantize it.
        var shared = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard case .concat = node.op, let p = params[i] else { continue }
            for j in node.inputs where !shared.contains(j) && uses[j] >= 1 && isWeighted(graph.nodes[j]) {
                params[j] = p
                shared.insert(j)
            }
        }
        for (i, node) in graph.nodes.enumerated() where node.op.quantizationRole == .int8SameScale {
            if params[i] != nil { params[i] = params[node.inputs[0]] }
        }
        var table = ActivationQuantization()
        for (i, p) in params.enumerated() { if let p { table[graph.nodes[i].name] = p } }
        return table
    }

    /// The graph with int8 weights and Int32 biases for every convolution that is not kept in fp32 and
    /// whose input is quantized.
    static func quantizeWeights(_ graph: Graph, _ table: ActivationQuantization, keep: Set<String>, perTensor: Bool) -> Graph {
        var g = graph
        for node in graph.nodes where !keep.contains(node.name) && isQuantizable(node, graph) {
            guard case .weighted(let weight, let bias, let axis, _) = node.op.quantizationRole else { continue }
            guard let px = table[graph.nodes[node.inputs[0]].name] else { continue }
            let w = graph.parameters[weight]
            let (q, quantization) = WeightQuantizer.quantize(w.floats, shape: w.shape, axis: axis, perTensor: perTensor)
            g.parameters[weight] = Parameter(name: w.name, shape: w.shape, data: .i8(q), quantization: quantization)
            if let bias {
                let b = graph.parameters[bias]
                let (qb, bq) = WeightQuantizer.quantizeBias(b.floats, inputScale: px.scale, weightScales: quantization.scales)
                g.parameters[bias] = Parameter(name: b.name, shape: b.shape, data: .i32(qb), quantization: bq)
            }
        }
        return g
    }

    /// FNV-1a over the calibration tensors' bits: tells whether two int8 files were calibrated alike.
    static func calibrationHash(_ images: [Tensor]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in images {
            for v in t.data {
                h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3
            }
        }
        return String(h, radix: 16)
    }
}

extension Graph {
    /// The same graph with every node also a graph output (node order), for calibration and reports.
    func exposingEveryNode() -> Graph {
        var g = self
        g.outputs = nodes.indices.map { GraphOutput(name: nodes[$0].name, node: $0) }
        return g
    }
}
