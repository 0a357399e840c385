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
    /// The parameter added to each output channel as the op's last step (a convolution's bias with no fused
    /// activation), or nil: what sets an output head's starting logits (`PriorHeadBias`).
    var outputBias: Int? { get }

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
    /// Whether `backward` in training reads the node's own forward output (an activation's mask, a softmax); when
    /// it does not, training can release that output once the nodes reading it have run their backward
    /// (`ReleasedActivations`).
    var backwardReadsOutput: Bool { get }

    /// Lowers node `i` of an int8 model to int8 steps on `program` and returns its output value, or nil to
    /// run it as a float island (the family's fp32 plan between dequantize and quantize steps).
    func lowerInt8(_ program: Int8Program, node i: Int) throws(GraphError) -> Int?
    /// What post-training quantization (the `Quant` module) does with a node of this op.
    var quantizationRole: QuantizationRole { get }

    /// This operator as a graph op.
    var op: Op { get }
    /// The op with every parameter index passed through `map` (graph passes that copy or drop parameters).
    func remappingParameters(_ map: (Int) -> Int) -> Op
    /// The op applying `activation` as it stores its output, when it can and has none yet (the fusion pass).
    func fusing(_ activation: FusedActivation) -> Op?
}

/// How an operator takes part in post-training quantization.
public enum QuantizationRole: Equatable {
    /// Runs in fp32 in int8 models; its output is calibrated only for the int8 ops that read it.
    case float
    /// An int8 op whose output gets its own calibrated scale (inputs, add, concat).
    case int8
    /// An int8 op whose output keeps its input's scale (max pooling and resizing commute with it).
    case int8SameScale
    /// A layer with weights: int8 weights per output channel along `axis` of parameter `weight`, an Int32
    /// `bias`, when `supported` (the int8 kernels compute it); otherwise it stays fp32.
    case weighted(weight: Int, bias: Int?, axis: Int, supported: Bool)
}

extension OperatorDefinition {
    public var operandCount: ClosedRange<Int> { 1...1 }
    public var parameterIndices: [Int] { [] }
    public var outputBias: Int? { nil }
    public var backwardReadsOutput: Bool { true }
    public func encode(into attributes: inout NodeAttributeWriter) {}
    public func multiplyAccumulates(_ operands: [TensorShape], output: TensorShape) -> Double { 0 }
    public var quantizationRole: QuantizationRole { .float }
    public func remappingParameters(_ map: (Int) -> Int) -> Op { op }
    public func fusing(_ activation: FusedActivation) -> Op? { nil }
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
