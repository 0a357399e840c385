import Kernels

/// The per-tensor parameters of a quantized model's activations, by node name. A node with an entry
/// has an 8-bit output; a node without one stays float (a float island of a mixed-precision model,
/// or the logits). Stored in the model file's metadata (`quant.tensors`, `quant.scales`,
/// `quant.zero_points`), next to the int8 weights in the tensor section.
public struct ActivationQuantization: Equatable {
    public var parameters: [String: Q8TensorParameters]

    public init(_ parameters: [String: Q8TensorParameters] = [:]) {
        self.parameters = parameters
    }

    public subscript(node: String) -> Q8TensorParameters? {
        get { parameters[node] }
        set { parameters[node] = newValue }
    }

    public var isEmpty: Bool { parameters.isEmpty }

    /// Writes the table into `metadata` (names sorted, so files are reproducible).
    public func write(into metadata: inout Metadata) {
        let names = parameters.keys.sorted()
        metadata[MetadataKey.quantTensors] = .strings(names)
        var scales: [Float] = [], zeroPoints: [Float] = []
        for n in names {
            scales.append(parameters[n]!.scale)
            zeroPoints.append(Float(parameters[n]!.zeroPoint))
        }
        metadata[MetadataKey.quantScales] = .floats(scales)
        metadata[MetadataKey.quantZeroPoints] = .floats(zeroPoints)
    }

    /// Reads the table from `metadata`; nil when the model is not quantized.
    public init?(metadata: Metadata) throws(ModelFileError) {
        guard let names = metadata.strings(MetadataKey.quantTensors) else { return nil }
        guard let scales = metadata.floats(MetadataKey.quantScales), let zeroPoints = metadata.floats(MetadataKey.quantZeroPoints),
              scales.count == names.count, zeroPoints.count == names.count else {
            throw .invalid(section: "metadata", "quantization tables have mismatched lengths")
        }
        var table: [String: Q8TensorParameters] = [:]
        for (i, n) in names.enumerated() {
            let s = scales[i], z = zeroPoints[i]
            guard s.isFinite && s > 0, z >= 0 && z <= 255 && z == z.rounded() else {
                throw .invalid(section: "metadata", "tensor '\(n)' has invalid quantization (scale \(s), zero point \(z))")
            }
            table[n] = Q8TensorParameters(scale: s, zeroPoint: Int32(z))
        }
        self.init(table)
    }
}

extension Model {
    /// The activation quantization of an int8 model, nil for fp32 models.
    public func activationQuantization() throws(ModelFileError) -> ActivationQuantization? {
        try ActivationQuantization(metadata: metadata)
    }

    /// "int8" or "fp32" (from the metadata).
    public var precision: String { metadata.string(MetadataKey.precision) ?? "fp32" }
}
