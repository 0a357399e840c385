import Foundation
import Engine
import Kernels

/// How one node fared in int8: its precision, and the signal-to-quantization-noise ratio of its output
/// (fp32 vs int8 pipeline, over the probe images), in dB.
public struct LayerReport {
    public var name: String
    public var kind: String
    public var precision: String
    public var sqnr: Double
    /// How much SQNR this node lost relative to its worst input (its own contribution to the error).
    public var sqnrDrop: Double
    public var isConvolution: Bool
}

/// What `segrun quantize --report` prints.
public struct QuantizationReport {
    public var layers: [LayerReport] = []
    /// Dice between the fp32 and the int8 masks on the probe images (1 = identical masks).
    public var maskAgreement = 1.0
    /// SQNR of the logits, dB.
    public var outputSQNR = 0.0
    public var method = ""
    public var keptFloat: [String] = []
    public var unquantizableOps: [String] = []
    public var calibrationImages = 0
    /// Tensors whose calibrated range collapsed (constant activations): they get a defined scale.
    public var warnings: [String] = []
    public var seconds = 0.0

    /// Runs the fp32 and int8 graphs with every node exposed over `images` and compares them.
    static func measure(float: Graph, quantized: Graph, table: ActivationQuantization, images: [Tensor],
                        threads: Int) throws(QuantizationError) -> QuantizationReport {
        let fp = float.exposingEveryNode(), q8 = quantized.exposingEveryNode()
        let fe: Executor, qe: Executor
        do {
            fe = try Executor(fp, threads: threads, policy: .forced(.igemm), optimize: false)  // deterministic, as calibration
            qe = try Executor(q8, threads: threads, quantization: table)
        } catch { throw .graph("\(error)") }
        let n = float.nodes.count
        var signal = [Double](repeating: 0, count: n), noise = [Double](repeating: 0, count: n)
        var overlap = 0.0, total = 0.0
        let outputs = float.outputs.map { $0.node }
        for image in images {
            let a: [Tensor], b: [Tensor]
            do { a = try fe.run(image); b = try qe.run(image) } catch { throw .graph("\(error)") }
            for i in 0..<n {
                var s = 0.0, e = 0.0
                for k in 0..<a[i].data.count {
                    let x = Double(a[i].data[k]), d = x - Double(b[i].data[k])
                    s += x * x
                    e += d * d
                }
                signal[i] += s
                noise[i] += e
            }
            if let o = outputs.first {
                let ma = TensorOps.labels(TensorOps.probabilities(fromLogits: a[o]), threshold: 0.5)
                let mb = TensorOps.labels(TensorOps.probabilities(fromLogits: b[o]), threshold: 0.5)
                for k in 0..<ma.count {
                    if ma[k] != 0 && mb[k] == ma[k] { overlap += 2 }
                    if ma[k] != 0 { total += 1 }
                    if mb[k] != 0 { total += 1 }
                }
            }
        }
        var report = QuantizationReport()
        report.maskAgreement = total == 0 ? 1 : overlap / total
        var sqnr = [Double](repeating: 0, count: n)
        for i in 0..<n {
            sqnr[i] = noise[i] <= 0 ? 99 : min(99, 10 * log10(max(signal[i], 1e-30) / noise[i]))
        }
        let floatNodes = Set((try? qe.plan(images.first.map { [$0.shape] } ?? []).floatNodes) ?? [])
        for (i, node) in float.nodes.enumerated() {
            let worstInput = node.inputs.map { sqnr[$0] }.min() ?? 99
            let isConv = Quantizer.isWeighted(node)
            let precision: String
            if case .input = node.op { precision = "int8" }
            else if floatNodes.contains(node.name) || (isConv && isFloatWeights(quantized, node)) { precision = "fp32" }
            else { precision = table[node.name] == nil ? "int8 -> fp32 out" : "int8" }
            report.layers.append(LayerReport(name: node.name, kind: node.op.kind, precision: precision, sqnr: sqnr[i],
                                             sqnrDrop: worstInput - sqnr[i], isConvolution: isConv))
        }
        if let o = outputs.first { report.outputSQNR = sqnr[o] }
        return report
    }

    static func isFloatWeights(_ graph: Graph, _ node: Node) -> Bool {
        guard case .weighted(let weight, _, _, _) = node.op.quantizationRole, case .f32 = graph.parameters[weight].data else { return false }
        return true
    }

    /// The report as text lines (a table of layers, then the summary).
    public func lines() -> [String] {
        var out = ["layer                              op                 precision  SQNR dB  drop"]
        for l in layers {
            out.append("\(pad(l.name, 34)) \(pad(l.kind, 18)) \(pad(l.precision, 10)) \(pad(String(format: "%6.1f", l.sqnr), 8)) \(String(format: "%5.1f", l.sqnrDrop))")
        }
        out.append("method: \(method); \(calibrationImages) calibration images; \(String(format: "%.1f", seconds)) s")
        out.append("logits SQNR \(String(format: "%.1f", outputSQNR)) dB; fp32/int8 mask agreement (Dice) \(String(format: "%.4f", maskAgreement))")
        out.append("ops kept in fp32 (no int8 kernel): " + (unquantizableOps.isEmpty ? "none" : unquantizableOps.joined(separator: ", ")))
        for w in warnings { out.append("warning: " + w) }
        out.append("convolutions kept in fp32: " + (keptFloat.isEmpty ? "none" : keptFloat.joined(separator: ", ")))
        return out
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}
