import Kernels

/// What one operator family defines, in its own file under `Operators/`: its attributes (the conforming
/// struct), how they are stored in a model file, how many operands and which parameters it reads, its
/// output shape (with every check a graph needs before it runs) and its cost.
///
/// `Op` (OperatorRegistry.swift) lists the families; `Op.visit` is the one switch over them, and every
/// consumer (shape inference, statistics, the file coder, the executors) is a small `OperatorVisitor`
/// that calls the family's requirements generically. Adding an operator is its file plus its lines in
/// the registry.
public protocol OperatorDefinition: Equatable {
    /// The op's name in the model file (`NodeAttributes`). Several `Op` cases may share one (every
    /// activation is "activation", told apart by an attribute).
    static var fileName: String { get }
    /// The name in listings and error messages (`relu`, `conv2d`).
    var kind: String { get }
    /// How many operands a node of this op reads.
    var operandCount: ClosedRange<Int> { get }
    /// The indices into `Graph.parameters` a node of this op reads.
    var parameterIndices: [Int] { get }

    /// Writes the attributes, named and typed, into a node's attribute list.
    func encode(into attributes: inout NodeAttributeWriter)
    /// The op stored with these attributes (unknown keys are ignored); errors name the node and the key.
    static func decode(_ attributes: NodeAttributeReader) throws(ModelFileError) -> Op

    /// The output shape for these operand shapes (an input node gets the caller's input shape as its one
    /// operand). Throws, through `context`, when a shape or a parameter's size does not fit.
    func outputShape(_ operands: [TensorShape], _ context: ShapeContext) throws(GraphError) -> TensorShape
    /// Multiply-accumulates for the whole batch (direct-convolution count; 0 for ops that only move data).
    func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double

    /// The node planned for fp32 at the context's shapes: kernels chosen, weights packed.
    func planFloat(_ context: FloatPlanContext) throws(GraphError) -> PreparedOp

    /// The output in Float64 by the plainest loops (NCHW): the reference the executors are checked against.
    func reference(_ operands: [ReferenceTensor], _ context: ReferenceContext) -> ReferenceTensor

    /// Training's forward of node `i`: reads its operands' values on `tape`, writes its NHWC output (every
    /// element), and keeps on the tape what its backward needs.
    func trainingForward(_ tape: Autograd, node i: Int, output: inout [Float]) throws(GraphError)
    /// Given dY of node `i` (NHWC), adds its operands' gradients into `operandGradients` and its parameters'
    /// gradients into `tape.gradients`.
    func backward(_ tape: Autograd, node i: Int, outputGradient: [Float], operandGradients: inout [[Float]?]) throws(GraphError)
}

extension OperatorDefinition {
    public var operandCount: ClosedRange<Int> { 1...1 }
    public var parameterIndices: [Int] { [] }
    public func encode(into attributes: inout NodeAttributeWriter) {}
    public func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double { 0 }
}

/// Something done to one node's operator: the executors, the shape checker, the coder each define one.
/// `Op.visit` hands it the node's operator as its concrete type.
public protocol OperatorVisitor {
    associatedtype Result
    associatedtype Failure: Error
    mutating func visit<O: OperatorDefinition>(_ op: O) throws(Failure) -> Result
}

/// What `outputShape` may look at besides the operand shapes: the node (for errors) and the parameters.
public struct ShapeContext {
    public let node: String
    public let parameters: [Parameter]

    public func fail(_ message: String) -> GraphError { .shape(node: node, message) }

    /// Throws unless parameter `index` holds `count` values.
    public func expect(parameter index: Int, count: Int, _ what: String) throws(GraphError) {
        let got = parameters[index].elementCount
        if got != count { throw fail("\(what) '\(parameters[index].name)' has \(got) values, expected \(count)") }
    }
}
