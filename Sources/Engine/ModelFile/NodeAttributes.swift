import Kernels

/// Format 2's self-describing nodes: each op by name, its attributes as named, typed values (the metadata
/// section's encoding). Spatial attributes are lists, one entry per spatial axis ([D,] H, W), so a kernel of
/// 1x3x3 is a plain attribute. A reader skips attributes it does not know, and names an op it does not know.
/// Each operator family writes and reads its own attributes (`OperatorDefinition.encode`/`decode`).
enum NodeAttributes {
    static func encode(_ op: Op) -> Metadata {
        var v = EncodeVisitor()
        return op.visit(&v).metadata
    }

    /// The op named `name` with attributes `a` (unknown keys ignored); errors name the node and the key.
    static func decode(_ name: String, _ a: Metadata, node: String) throws(ModelFileError) -> Op {
        for entry in Op.decoders where entry.name == name {
            return try entry.decode(NodeAttributeReader(attributes: a, op: name, node: node))
        }
        var known = ""
        for entry in Op.decoders { known += (known.isEmpty ? "" : ", ") + entry.name }
        throw .invalid(section: "graph", "node '\(node)' has op '\(name)', which this segrun does not know (it reads \(known))")
    }

    private struct EncodeVisitor: OperatorVisitor {
        func visit<O: OperatorDefinition>(_ op: O) -> NodeAttributeWriter {
            var w = NodeAttributeWriter()
            op.encode(into: &w)
            return w
        }
    }
}

/// A node's attributes being written: named integers, integer lists, numbers and strings.
public struct NodeAttributeWriter {
    public private(set) var metadata = Metadata()

    public mutating func int(_ key: String, _ value: Int) { metadata[key] = .int(Int64(value)) }
    public mutating func ints(_ key: String, _ values: [Int]) { metadata[key] = .ints(values.map { Int64($0) }) }
    public mutating func float(_ key: String, _ value: Float) { metadata[key] = .float(Double(value)) }
    public mutating func string(_ key: String, _ value: String) { metadata[key] = .string(value) }
    public mutating func floats(_ key: String, _ values: [Float]) { metadata[key] = .floats(values) }

    /// A fused activation as `activation` (and `slope`); nothing for none.
    public mutating func activation(_ f: FusedActivation) {
        switch f {
        case .none: return
        case .relu: string("activation", "relu")
        case .leakyRelu(let s): string("activation", "leaky_relu"); float("slope", s)
        }
    }
}

/// A node's attributes being read. Every accessor throws an error naming the node, the op and the key.
public struct NodeAttributeReader {
    public let attributes: Metadata
    public let op: String
    public let node: String

    public func fail(_ message: String) -> ModelFileError { .invalid(section: "graph", "node '\(node)' (\(op)): \(message)") }

    public func int(_ key: String, default value: Int? = nil) throws(ModelFileError) -> Int {
        if case .int(let v)? = attributes[key], v >= Int64(Int32.min), v <= Int64(Int32.max) { return Int(v) }
        if attributes[key] == nil, let value { return value }
        throw fail(attributes[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not a 32-bit integer")
    }

    /// An integer list of exactly `count` entries.
    public func ints(_ key: String, count: Int) throws(ModelFileError) -> [Int] {
        guard case .ints(let v)? = attributes[key] else {
            throw fail(attributes[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not an integer list")
        }
        guard v.count == count, v.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else {
            throw fail("attribute '\(key)' has \(v.count) entries, expected \(count) (one per spatial axis)")
        }
        return v.map { Int($0) }
    }

    /// A per-axis integer list of 1 to 3 entries (its length sets the op's spatial rank).
    public func axes(_ key: String) throws(ModelFileError) -> [Int] {
        guard case .ints(let v)? = attributes[key] else {
            throw fail(attributes[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not an integer list")
        }
        guard (1...3).contains(v.count) else { throw fail("attribute '\(key)' has \(v.count) entries; ops have 1 to 3 spatial axes") }
        return try ints(key, count: v.count)
    }

    /// One value per axis, equal on both axes (the ops that store one number).
    public func square(_ key: String) throws(ModelFileError) -> Int {
        let v = try ints(key, count: 2)
        guard v[0] == v[1] else { throw fail("attribute '\(key)' is \(v[0])x\(v[1]); this segrun reads square ones") }
        return v[0]
    }

    public func float(_ key: String) throws(ModelFileError) -> Float {
        guard case .float(let v)? = attributes[key], v.isFinite else {
            throw fail(attributes[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not a finite number")
        }
        return Float(v)
    }

    public func string(_ key: String) -> String? { attributes.string(key) }

    /// An f32 list of exactly `count` finite entries.
    public func floats(_ key: String, count: Int) throws(ModelFileError) -> [Float] {
        guard let v = attributes.floats(key) else {
            throw fail(attributes[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not a number list")
        }
        guard v.count == count, v.allSatisfy({ $0.isFinite }) else { throw fail("attribute '\(key)' must hold \(count) finite numbers") }
        return v
    }

    public func optionalIndex(_ key: String) throws(ModelFileError) -> Int? { attributes[key] == nil ? nil : try int(key) }

    public func activation() throws(ModelFileError) -> FusedActivation {
        switch attributes.string("activation") {
        case nil: if attributes["activation"] == nil { return .none }
        case "relu": return .relu
        case "leaky_relu": return .leakyRelu(slope: try float("slope"))
        default: break
        }
        throw fail("unknown fused activation '\(attributes["activation"]!.description)'")
    }
}
