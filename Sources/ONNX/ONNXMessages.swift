/// The parts of ONNX's protocol-buffer messages (onnx.proto) that a segmentation model uses, decoded
/// from the wire format by `ProtobufReader`. Field numbers are onnx.proto's; other fields are skipped.
public struct ONNXModel {
    public var irVersion: Int64 = 0
    /// Operator set versions by domain ("" and "ai.onnx" are the default domain).
    public var opsets: [String: Int64] = [:]
    public var producerName = ""
    public var producerVersion = ""
    public var graph = ONNXGraph()
    public var metadata: [(key: String, value: String)] = []

    /// The default domain's operator set version.
    public var opset: Int64? { opsets[""] ?? opsets["ai.onnx"] }

    public init() {}

    public init(bytes: [UInt8]) throws(ONNXError) {
        var r = ProtobufReader(bytes)
        var sawGraph = false
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(type, .varint, field: "ModelProto.ir_version"); irVersion = try r.int64()
            case 2: try r.expect(type, .lengthDelimited, field: "ModelProto.producer_name"); producerName = try r.string()
            case 3: try r.expect(type, .lengthDelimited, field: "ModelProto.producer_version"); producerVersion = try r.string()
            case 7:
                try r.expect(type, .lengthDelimited, field: "ModelProto.graph")
                var m = try r.message()
                graph = try ONNXGraph(&m)
                sawGraph = true
            case 8:
                try r.expect(type, .lengthDelimited, field: "ModelProto.opset_import")
                var m = try r.message()
                var domain = "", version: Int64 = 0
                while let (f, t) = try m.nextField() {
                    if f == 1 && t == .lengthDelimited { domain = try m.string() } else if f == 2 && t == .varint { version = try m.int64() } else { try m.skip(t) }
                }
                opsets[domain] = version
            case 14:
                try r.expect(type, .lengthDelimited, field: "ModelProto.metadata_props")
                var m = try r.message()
                metadata.append(try Self.entry(&m))
            default: try r.skip(type)
            }
        }
        if !sawGraph { throw .invalid("the file holds no graph (is it an ONNX model?)") }
    }

    static func entry(_ m: inout ProtobufReader) throws(ONNXError) -> (key: String, value: String) {
        var key = "", value = ""
        while let (f, t) = try m.nextField() {
            if f == 1 && t == .lengthDelimited { key = try m.string() } else if f == 2 && t == .lengthDelimited { value = try m.string() } else { try m.skip(t) }
        }
        return (key, value)
    }
}

public struct ONNXGraph {
    public var name = ""
    public var nodes: [ONNXNode] = []
    public var initializers: [ONNXTensor] = []
    public var inputs: [ONNXValueInfo] = []
    public var outputs: [ONNXValueInfo] = []

    public init() {}

    init(_ r: inout ProtobufReader) throws(ONNXError) {
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(type, .lengthDelimited, field: "GraphProto.node"); var m = try r.message(); nodes.append(try ONNXNode(&m))
            case 2: try r.expect(type, .lengthDelimited, field: "GraphProto.name"); name = try r.string()
            case 5: try r.expect(type, .lengthDelimited, field: "GraphProto.initializer"); var m = try r.message(); initializers.append(try ONNXTensor(&m))
            case 11: try r.expect(type, .lengthDelimited, field: "GraphProto.input"); var m = try r.message(); inputs.append(try ONNXValueInfo(&m))
            case 12: try r.expect(type, .lengthDelimited, field: "GraphProto.output"); var m = try r.message(); outputs.append(try ONNXValueInfo(&m))
            case 15: throw .invalid("graph '\(name)' has sparse initializers, which segrun does not read")
            default: try r.skip(type)
            }
        }
    }
}

public struct ONNXNode {
    public var name = ""
    public var opType = ""
    public var domain = ""
    public var inputs: [String] = []
    public var outputs: [String] = []
    public var attributes: [ONNXAttribute] = []

    public init(name: String, opType: String, inputs: [String], outputs: [String], attributes: [ONNXAttribute] = []) {
        self.name = name
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    init(_ r: inout ProtobufReader) throws(ONNXError) {
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(type, .lengthDelimited, field: "NodeProto.input"); inputs.append(try r.string())
            case 2: try r.expect(type, .lengthDelimited, field: "NodeProto.output"); outputs.append(try r.string())
            case 3: try r.expect(type, .lengthDelimited, field: "NodeProto.name"); name = try r.string()
            case 4: try r.expect(type, .lengthDelimited, field: "NodeProto.op_type"); opType = try r.string()
            case 5: try r.expect(type, .lengthDelimited, field: "NodeProto.attribute"); var m = try r.message(); attributes.append(try ONNXAttribute(&m))
            case 7: try r.expect(type, .lengthDelimited, field: "NodeProto.domain"); domain = try r.string()
            default: try r.skip(type)
            }
        }
    }

    public func attribute(_ name: String) -> ONNXAttribute? { attributes.first { $0.name == name } }

    /// A name for messages: the node's own, else its first output's.
    public var label: String { name.isEmpty ? (outputs.first ?? "?") : name }
}

public struct ONNXAttribute {
    public var name = ""
    public var type: Int64 = 0
    public var float: Float?
    public var int: Int64?
    public var bytes: [UInt8]?
    public var tensor: ONNXTensor?
    public var floats: [Float] = []
    public var ints: [Int64] = []
    public var strings: [String] = []
    public var hasGraph = false

    public init(name: String) { self.name = name }

    init(_ r: inout ProtobufReader) throws(ONNXError) {
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(type, .lengthDelimited, field: "AttributeProto.name"); name = try r.string()
            case 2: try r.expect(type, .fixed32, field: "AttributeProto.f"); float = try r.float()
            case 3: try r.expect(type, .varint, field: "AttributeProto.i"); int = try r.int64()
            case 4: try r.expect(type, .lengthDelimited, field: "AttributeProto.s"); bytes = Array(r.bytes[try r.lengthDelimited()])
            case 5: try r.expect(type, .lengthDelimited, field: "AttributeProto.t"); var m = try r.message(); tensor = try ONNXTensor(&m)
            case 6, 11: hasGraph = true; try r.skip(type)
            case 7: try r.appendFloats(type, to: &floats)
            case 8: try r.appendInt64s(type, to: &ints)
            case 9: try r.expect(type, .lengthDelimited, field: "AttributeProto.strings"); strings.append(try r.string())
            case 20: try r.expect(type, .varint, field: "AttributeProto.type"); self.type = try r.int64()
            default: try r.skip(type)
            }
        }
    }

    public var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
}

public struct ONNXValueInfo {
    public var name = ""
    public var elementType: Int64 = 0
    /// Each dimension's size, or nil for a symbolic (`dim_param`) or missing one; nil when the rank is unknown.
    public var dims: [Int64?]?

    init(_ r: inout ProtobufReader) throws(ONNXError) {
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(type, .lengthDelimited, field: "ValueInfoProto.name"); name = try r.string()
            case 2:
                try r.expect(type, .lengthDelimited, field: "ValueInfoProto.type")
                var typeProto = try r.message()
                while let (f, t) = try typeProto.nextField() {
                    guard f == 1, t == .lengthDelimited else { try typeProto.skip(t); continue }
                    var tensorType = try typeProto.message()
                    while let (f2, t2) = try tensorType.nextField() {
                        if f2 == 1 && t2 == .varint { elementType = try tensorType.int64(); continue }
                        guard f2 == 2, t2 == .lengthDelimited else { try tensorType.skip(t2); continue }
                        var shape = try tensorType.message()
                        var list: [Int64?] = []
                        while let (f3, t3) = try shape.nextField() {
                            guard f3 == 1, t3 == .lengthDelimited else { try shape.skip(t3); continue }
                            var dim = try shape.message()
                            var value: Int64?
                            while let (f4, t4) = try dim.nextField() {
                                if f4 == 1 && t4 == .varint { value = try dim.int64() } else { try dim.skip(t4) }
                            }
                            list.append(value)
                        }
                        dims = list
                    }
                }
            default: try r.skip(type)
            }
        }
    }
}
