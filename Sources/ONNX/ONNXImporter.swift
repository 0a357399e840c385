import Foundation
import Engine

/// What the importer needs beyond the file: the size at which symbolic dimensions are resolved, and the
/// model metadata an ONNX file does not carry (its `metadata_props` win when they name segrun's keys).
public struct ONNXImportOptions {
    /// Spatial size ([D,] H, W) for resolving symbolic dimensions; nil takes the file's static dims.
    public var size: [Int]?
    public var mean: [Float]?
    public var std: [Float]?
    public var classNames: [String]?
    public var threshold: Float?

    public init(size: [Int]? = nil, mean: [Float]? = nil, std: [Float]? = nil, classNames: [String]? = nil, threshold: Float? = nil) {
        self.size = size
        self.mean = mean
        self.std = std
        self.classNames = classNames
        self.threshold = threshold
    }
}

/// The result of an import: the segrun model, and what the importer did that a user should know
/// (folded and removed nodes, a stripped output activation, a fixed input size).
public struct ONNXImport {
    public var model: Model
    public var notes: [String]
}

/// Maps an ONNX graph onto segrun's IR. Nodes run in file order (ONNX requires topological order; a
/// dangling or cyclic reference is an error naming the node). Constants and shape arithmetic are folded
/// (`ConstantFolding.swift`); every other node becomes segrun nodes (`ONNXOperators.swift`) or is refused
/// with a one-line reason. Nothing is approximated: an attribute segrun cannot honour is an error.
public struct ONNXImporter {
    /// A value of the ONNX graph as the importer holds it.
    enum Value {
        /// The output of a segrun node.
        case node(Int)
        case constant(ConstantTensor)
        /// `Reshape(x, [N, G, -1])` of node x: the first half of the exporter's GroupNorm pattern.
        case grouped(node: Int, groups: Int)
        /// `InstanceNormalization` of a grouped tensor: GroupNorm without its reshape back.
        case groupNormalized(node: Int, groups: Int, epsilon: Float)
        /// Presence logits with `firstGated` always-open channels padded in front (a positive constant):
        /// the first step of the exporter's `presence_gate` pattern.
        case presencePadded(node: Int, firstGated: Int)
        /// `Greater(presence, 0)`: which classes of each image stay open, read by `Where`.
        case presenceOpen(node: Int, firstGated: Int)
        /// Tensors stacked on a new leading axis (`Unsqueeze(x, 0)`, then `Concat` on axis 0): the
        /// `torch.stack(xs)` of `torch.stack(xs).sum(0)`, which must be reduced over that axis again
        /// (segmentation_models_pytorch's FPN merges its pyramid so).
        case stacked([Int])
    }

    static let supportedOpsets: ClosedRange<Int64> = 11...21
    static let supportedIRVersions: ClosedRange<Int64> = 3...11

    let onnx: ONNXModel
    let directory: String?
    let options: ONNXImportOptions
    var graph = Graph()
    var shapes: [TensorShape] = []
    var values: [String: Value] = [:]
    /// How many nodes (and graph outputs) read each ONNX value, after Identity and Dropout are bypassed.
    var consumers: [String: Int] = [:]
    /// The ONNX value each segrun node produced.
    var producedBy: [String] = []
    var notes: [String] = []
    var fixedSize = false
    var inputShape = TensorShape(channels: 1, height: 1, width: 1)
    var opset: Int64 = 0

    public static func importModel(_ onnx: ONNXModel, directory: String?, options: ONNXImportOptions = ONNXImportOptions()) throws(ONNXError) -> ONNXImport {
        var importer = ONNXImporter(onnx: onnx, directory: directory, options: options)
        return try importer.run()
    }

    private init(onnx: ONNXModel, directory: String?, options: ONNXImportOptions) {
        self.onnx = onnx
        self.directory = directory
        self.options = options
    }

    private mutating func run() throws(ONNXError) -> ONNXImport {
        if !Self.supportedIRVersions.contains(onnx.irVersion) {
            throw .invalid("IR version \(onnx.irVersion) is outside what segrun reads (\(Self.supportedIRVersions.lowerBound)-\(Self.supportedIRVersions.upperBound))")
        }
        guard let opset = onnx.opset else { throw .invalid("the model imports no default-domain operator set") }
        if !Self.supportedOpsets.contains(opset) {
            throw .invalid("opset \(opset) is outside what segrun reads (\(Self.supportedOpsets.lowerBound)-\(Self.supportedOpsets.upperBound)); re-export with opset_version=17")
        }
        self.opset = opset
        let g = onnx.graph
        for t in g.initializers {
            let v = try t.values(directory: directory)
            values[t.name] = .constant(ConstantTensor(dims: t.dims, values: v, isInteger: Self.isIntegerType(t.dataType)))
        }
        try addInput()
        countConsumers()
        for node in g.nodes {
            if !node.domain.isEmpty && node.domain != "ai.onnx" {
                throw .unsupported(node: node.label, opType: node.opType, reason: "operator domain '\(node.domain)' is not ONNX's default domain")
            }
            for name in node.inputs where !name.isEmpty && values[name] == nil {
                throw .invalid("node '\(node.label)' (\(node.opType)) reads '\(name)', which no earlier node, input or initializer produces (the graph is cyclic, unsorted or dangling)")
            }
            let needed = Self.requiredInputs(node.opType)
            if node.inputs.prefix(needed).count < needed || node.inputs.prefix(needed).contains(where: \.isEmpty) {
                throw .invalid("node '\(node.label)' (\(node.opType)) has \(node.inputs.filter { !$0.isEmpty }.count) of its \(needed) required inputs")
            }
            try importNode(node)
        }
        try setOutputs()
        return ONNXImport(model: try makeModel(), notes: notes)
    }

    static func isIntegerType(_ t: Int64) -> Bool {
        guard let type = ONNXTensor.DataType(rawValue: t) else { return false }
        switch type {
        case .float, .double, .float16, .bfloat16: return false
        default: return true
        }
    }

    // MARK: graph input and outputs

    private mutating func addInput() throws(ONNXError) {
        let initializerNames = Set(onnx.graph.initializers.map(\.name))
        let inputs = onnx.graph.inputs.filter { !initializerNames.contains($0.name) }
        guard inputs.count == 1, let input = inputs.first else {
            throw .invalid("segrun imports models with one image input; this graph has \(inputs.count): \(inputs.map(\.name))")
        }
        guard let dims = input.dims, dims.count == 4 || dims.count == 5 else {
            throw .invalid("input '\(input.name)' must be N x C x H x W or N x C x D x H x W, got rank \(input.dims?.count ?? 0)")
        }
        if input.elementType != ONNXTensor.DataType.float.rawValue {
            throw .invalid("input '\(input.name)' has element type \(input.elementType); segrun imports float32 inputs")
        }
        guard let channels = dims[1], channels > 0 else {
            throw .invalid("input '\(input.name)' has a symbolic channel count; segrun needs a fixed one")
        }
        let spatialRank = dims.count - 2
        var spatial: [Int] = []
        for (axis, d) in dims[2...].enumerated() {
            if let size = options.size {
                guard size.count == spatialRank else {
                    throw .invalid("--size gives \(size.count) axes, the input has \(spatialRank) spatial axes")
                }
                if let d, d != Int64(size[axis]) {
                    throw .invalid("input '\(input.name)' is fixed at \(dims[2...].map { $0.map { "\($0)" } ?? "?" }.joined(separator: "x")), not the --size given")
                }
                spatial.append(size[axis])
            } else {
                guard let d, d > 0 else {
                    throw .invalid("input '\(input.name)' has symbolic spatial dims: give the size to resolve them at (--size HxW)")
                }
                spatial.append(Int(d))
            }
        }
        inputShape = TensorShape(batch: 1, channels: Int(channels), depth: spatialRank == 3 ? spatial[0] : nil,
                                 height: spatial[spatialRank - 2], width: spatial[spatialRank - 1])
        let index = try emit(name: input.name, op: .input(InputNode(channels: Int(channels), spatialRank: spatialRank)), inputs: [], produces: input.name)
        values[input.name] = .node(index)
    }

    /// Inputs an operator cannot do without (ONNX's minimum arity), checked before any is read.
    static func requiredInputs(_ opType: String) -> Int {
        switch opType {
        case "Constant": return 0
        case "Add", "Sub", "Mul", "Div", "Equal", "Greater", "PRelu", "Reshape", "Expand", "Gather", "Conv", "ConvTranspose": return 2
        case "Where", "Range", "Slice", "InstanceNormalization", "GroupNormalization": return 3
        case "BatchNormalization": return 5
        default: return 1
        }
    }

    private mutating func countConsumers() {
        var alias: [String: String] = [:]
        func canonical(_ n: String) -> String {
            var n = n
            while let a = alias[n] { n = a }
            return n
        }
        for node in onnx.graph.nodes where (node.opType == "Identity" || node.opType == "Dropout") && !node.inputs.isEmpty {
            for output in node.outputs.prefix(1) { alias[output] = canonical(node.inputs[0]) }
        }
        for node in onnx.graph.nodes where !(node.opType == "Identity" || node.opType == "Dropout") {
            for input in node.inputs where !input.isEmpty { consumers[canonical(input), default: 0] += 1 }
        }
        for output in onnx.graph.outputs { consumers[canonical(output.name), default: 0] += 2 }
    }

    private mutating func setOutputs() throws(ONNXError) {
        graph.outputs = []
        for output in onnx.graph.outputs {
            guard let value = values[output.name] else { throw .invalid("graph output '\(output.name)' is never produced") }
            guard case .node(var index) = value else {
                throw .invalid("graph output '\(output.name)' is a constant or a reshaped tensor, not an image-shaped output")
            }
            if graph.outputs.isEmpty {
                let op = graph.nodes[index].op
                if case .activation(.sigmoid) = op, shapes[index].channels == 1 {
                    notes.append("the final Sigmoid of '\(output.name)' is left to segrun's pipeline, which applies it to the logits")
                    index = graph.nodes[index].inputs[0]
                } else if case .softmax = op {
                    notes.append("the final Softmax of '\(output.name)' is left to segrun's pipeline, which applies it to the logits")
                    index = graph.nodes[index].inputs[0]
                }
            }
            graph.outputs.append(GraphOutput(name: output.name, node: index))
        }
        if graph.outputs.count > 1 { notes.append("the graph has \(graph.outputs.count) outputs; segmentation uses the first, '\(graph.outputs[0].name)'") }
        graph = graph.removingDeadNodes()
        do { try graph.validate() } catch { throw .invalid("the imported graph is not valid: \(error)") }
    }

    private func makeModel() throws(ONNXError) -> Model {
        var m = Metadata()
        var fromFile: [String: String] = [:]
        for (key, value) in onnx.metadata { fromFile[key] = value }
        func floats(_ key: String) -> [Float]? {
            fromFile[key].map { $0.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: CharacterSet(charactersIn: " []"))) } }
        }
        let outputShapes: [TensorShape]
        do { outputShapes = try graph.inferShapes([inputShape]) } catch { throw .invalid("the imported graph does not run at \(inputShape): \(error)") }
        let classes = outputShapes[graph.outputs[0].node].channels
        let channels = inputShape.channels
        m[MetadataKey.architecture] = .string("onnx")
        m[MetadataKey.inputChannels] = .int(Int64(channels))
        m[MetadataKey.inputMultiple] = .int(Int64(inputMultiple()))
        let mean = options.mean ?? floats(MetadataKey.inputMean) ?? [Float](repeating: 0, count: channels)
        let std = options.std ?? floats(MetadataKey.inputStd) ?? [Float](repeating: 1, count: channels)
        guard mean.count == channels || mean.count == 1, std.count == channels || std.count == 1 else {
            throw .invalid("--mean and --std take 1 or \(channels) values (the input has \(channels) channels)")
        }
        m[MetadataKey.inputMean] = .floats(mean.count == 1 ? [Float](repeating: mean[0], count: channels) : mean)
        m[MetadataKey.inputStd] = .floats(std.count == 1 ? [Float](repeating: std[0], count: channels) : std)
        if fixedSize && inputShape.depth == nil {
            m[MetadataKey.inputSize] = .floats([Float(inputShape.height), Float(inputShape.width)])
        } else if let size = floats(MetadataKey.inputSize), size.count == 2 {
            m[MetadataKey.inputSize] = .floats(size)
        }
        m[MetadataKey.classes] = .int(Int64(classes))
        let names = options.classNames ?? fromFile[MetadataKey.classNames].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: " []")) } }
        if let names, names.count != classes {
            throw .invalid("\(names.count) class names for a model with \(classes) output channels")
        }
        m[MetadataKey.classNames] = .strings(names ?? (classes == 1 ? ["foreground"] : ["background"] + (1..<classes).map { "class\($0)" }))
        m[MetadataKey.threshold] = .float(Double(options.threshold ?? fromFile[MetadataKey.threshold].flatMap { Float($0) } ?? 0.5))
        m[MetadataKey.precision] = .string("fp32")
        m["model.source"] = .string("onnx (\(onnx.producerName) \(onnx.producerVersion), opset \(opset), IR \(onnx.irVersion))")
        m[MetadataKey.toolVersion] = .string("segrun \(SegrunVersion.string)")
        return Model(metadata: m, graph: graph)
    }

    /// The smallest input multiple at which every downsampling divides evenly: the largest product of
    /// strides along any path (32 for a ResNet encoder, 16 for a depth-4 U-Net).
    private func inputMultiple() -> Int {
        var factor = [Double](repeating: 1, count: graph.nodes.count)
        var best = 1.0
        for (i, node) in graph.nodes.enumerated() {
            var f = node.inputs.map { factor[$0] }.max() ?? 1
            if case .adaptiveAveragePool2d = node.op {
                factor[i] = f
                continue
            }
            let inH = node.inputs.first.map { shapes[$0].height } ?? shapes[i].height
            if inH > 0 && shapes[i].height > 0 { f *= Double(inH) / Double(shapes[i].height) }
            if case .upsample(let a) = node.op, a.scale == 0 && a.factors == nil, node.inputs.count == 2 { f = factor[node.inputs[1]] }
            factor[i] = f
            best = max(best, f)
        }
        return max(1, Int(best.rounded()))
    }

    // MARK: building

    /// Appends a segrun node, infers its shape at the import size, and returns its index.
    mutating func emit(name: String, op: Op, inputs: [Int], produces value: String) throws(ONNXError) -> Int {
        graph.nodes.append(Node(name: uniqueName(name), op: op, inputs: inputs))
        producedBy.append(value)
        // Shape inference checks a whole graph, outputs included: while importing, the newest node is the output.
        graph.outputs = [GraphOutput(name: "importing", node: graph.nodes.count - 1)]
        do {
            let all = try graph.inferShapes([inputShape])
            shapes = all
        } catch {
            graph.nodes.removeLast()
            producedBy.removeLast()
            throw .unsupported(node: name, opType: op.kind, reason: "\(error)")
        }
        return graph.nodes.count - 1
    }

    private func uniqueName(_ name: String) -> String {
        let base = name.isEmpty ? "node\(graph.nodes.count)" : name
        if !graph.nodes.contains(where: { $0.name == base }) { return base }
        var k = 2
        while graph.nodes.contains(where: { $0.name == "\(base)_\(k)" }) { k += 1 }
        return "\(base)_\(k)"
    }

    mutating func addParameter(_ name: String, shape: [Int], _ values: [Float]) -> Int {
        graph.parameters.append(Parameter(name: name, shape: shape, values: values))
        return graph.parameters.count - 1
    }

    /// True when node `index`'s output is read only by the ONNX node being imported (so it may be changed
    /// in place: a per-channel Add folded into its bias).
    func hasSingleUse(_ index: Int) -> Bool {
        consumers[producedBy[index], default: 0] == 1 && !graph.nodes[(index + 1)...].contains { $0.inputs.contains(index) }
    }
}

extension ONNXImporter {
    /// Reads and imports an ONNX file; external data is looked up beside it.
    public static func importFile(_ path: String, options: ONNXImportOptions = ONNXImportOptions()) throws(ONNXError) -> ONNXImport {
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("cannot read '\(path)'") }
        let model = try ONNXModel(bytes: [UInt8](data))
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try importModel(model, directory: directory, options: options)
    }
}
