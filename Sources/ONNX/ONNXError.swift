/// Why an ONNX file cannot be imported or written. Every case reads as one line that names the file
/// position, node or tensor at fault.
public enum ONNXError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a well-formed protocol-buffer message (truncated, bad lengths or wire types).
    case malformed(String)
    /// Well-formed, but not a model segrun can read (IR version, opset, missing graph, bad tensor data).
    case invalid(String)
    /// A node segrun does not support, or supports only with other attributes.
    case unsupported(node: String, opType: String, reason: String)
    /// A file could not be read or written.
    case io(String)

    public var description: String {
        switch self {
        case .malformed(let what): return "not a valid ONNX file: \(what)"
        case .invalid(let what): return what
        case .unsupported(let node, let op, let reason): return "node '\(node)' (\(op)): \(reason)"
        case .io(let what): return what
        }
    }
}
