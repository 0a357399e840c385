/// A model: its graph with parameters, plus the metadata that tells the runtime how to feed it and
/// read its outputs. This is what a model file holds.
public struct Model: Equatable {
    public var metadata: Metadata
    public var graph: Graph

    public init(metadata: Metadata, graph: Graph) {
        self.metadata = metadata
        self.graph = graph
    }

    /// A freshly initialized model of an architecture, with the standard metadata.
    public init(config: ArchitectureConfig, preset: String? = nil, classNames: [String]? = nil) throws(ArchitectureError) {
        graph = try config.build()
        var m = Metadata()
        m[MetadataKey.architecture] = .string(config.architecture.rawValue)
        if let preset { m[MetadataKey.preset] = .string(preset) }
        m[MetadataKey.baseWidth] = .int(Int64(config.baseWidth))
        m[MetadataKey.depth] = .int(Int64(config.depth))
        m[MetadataKey.normalization] = .string(config.normalization.rawValue)
        m[MetadataKey.upsampling] = .string(config.upsampling.rawValue)
        if config.squeezeExcitation { m[MetadataKey.squeezeExcitation] = .int(1) }
        if config.classificationGuided { m[MetadataKey.classificationGuided] = .int(1) }
        m[MetadataKey.inputChannels] = .int(Int64(config.inChannels))
        m[MetadataKey.inputMultiple] = .int(Int64(config.inputMultiple))
        m[MetadataKey.inputMean] = .floats([Float](repeating: 0, count: config.inChannels))
        m[MetadataKey.inputStd] = .floats([Float](repeating: 1, count: config.inChannels))
        m[MetadataKey.classes] = .int(Int64(config.classes))
        m[MetadataKey.classNames] = .strings(classNames ?? Model.defaultClassNames(config.classes))
        m[MetadataKey.threshold] = .float(0.5)
        m[MetadataKey.precision] = .string("fp32")
        m[MetadataKey.toolVersion] = .string("segrun \(SegrunVersion.string)")
        metadata = m
    }

    static func defaultClassNames(_ classes: Int) -> [String] {
        if classes == 1 { return ["foreground"] }
        var names = ["background"]
        for c in 1..<classes { names.append("class\(c)") }
        return names
    }

    public var inputChannels: Int { metadata.int(MetadataKey.inputChannels) ?? 1 }
    /// 2 for a model of images, 3 for a model of volumes (its input node's rank).
    public var inputSpatialRank: Int {
        for node in graph.nodes { if case .input(let a) = node.op { return a.spatialRank } }
        return 2
    }
    public var classes: Int { metadata.int(MetadataKey.classes) ?? 1 }
    public var inputMultiple: Int { max(1, metadata.int(MetadataKey.inputMultiple) ?? 1) }
    public var threshold: Float { Float(metadata.double(MetadataKey.threshold) ?? 0.5) }
    /// Independent sigmoid outputs, one per label, whose masks may overlap (`segrun train --multilabel`).
    public var isMultilabel: Bool { metadata.int(MetadataKey.multilabel) == 1 }
    /// A multi-label model's label names as file-name parts (ASCII letters, digits, - and _ kept; anything else
    /// becomes _): `segrun predict` and segrun-edge write each label's mask as NAME_LABEL.png. Empty otherwise.
    public var labelFileNames: [String] {
        guard isMultilabel else { return [] }
        let names = metadata.strings(MetadataKey.classNames) ?? []
        var out: [String] = []
        for c in 0..<classes {
            let name = c + 1 < names.count ? names[c + 1] : "label\(c + 1)"
            var safe: [UInt8] = []
            for b in name.utf8 {
                let keep = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95
                safe.append(keep ? b : 95)
            }
            out.append(String(decoding: safe, as: UTF8.self))
        }
        return out
    }

    /// The probability each output must reach: per label for a multi-label model, else `threshold` alone.
    public var thresholds: [Float] {
        if isMultilabel, let t = metadata.floats(MetadataKey.thresholds), t.count == classes { return t }
        return [Float](repeating: threshold, count: max(1, classes))
    }
    public var inputMean: [Float] { metadata.floats(MetadataKey.inputMean) ?? [Float](repeating: 0, count: inputChannels) }
    /// The training size (H, W), when the model was trained on resized images.
    /// [D, H, W] of the patches a 3D model trained on (`input.patch`), when it says.
    public var inputPatch: [Int]? {
        guard let v = metadata.floats(MetadataKey.inputPatch), v.count == 3, v.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else { return nil }
        return v.map { Int($0) }
    }

    public var inputSize: (height: Int, width: Int)? {
        guard let v = metadata.floats(MetadataKey.inputSize), v.count == 2, v[0] >= 1, v[1] >= 1 else { return nil }
        return (Int(v[0]), Int(v[1]))
    }
    public var inputStd: [Float] { metadata.floats(MetadataKey.inputStd) ?? [Float](repeating: 1, count: inputChannels) }
}
