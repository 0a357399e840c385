import Kernels

/// A standalone activation node (when it follows a producer that can fuse it, a pass moves it there).
public enum ActivationKind: Equatable {
    case relu
    case leakyRelu(slope: Float)
    case sigmoid

    /// The form a conv, transposed conv, add or BatchNorm can apply as it stores; nil for sigmoid.
    public var fused: FusedActivation? {
        switch self {
        case .relu: return .relu
        case .leakyRelu(let s): return .leakyRelu(slope: s)
        case .sigmoid: return nil
        }
    }
}

/// 2D convolution (PyTorch `Conv2d`). Weight parameter OIHW `[out][in/groups][kh][kw]`, bias `[out]`.
public struct ConvAttributes: Equatable {
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    public var dilationY: Int
    public var dilationX: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var groups: Int
    /// Index into `Graph.parameters`.
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    public init(outChannels: Int, kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int,
                groups: Int = 1, weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        kernelHeight = kernel
        kernelWidth = kernel
        strideY = stride
        strideX = stride
        dilationY = dilation
        dilationX = dilation
        padTop = padding
        padLeft = padding
        padBottom = padding
        padRight = padding
        self.groups = groups
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    /// The kernel geometry for an input shape.
    public func geometry(_ input: TensorShape) -> Conv2dGeometry {
        Conv2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height, inWidth: input.width,
                       outChannels: outChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                       strideY: strideY, strideX: strideX, dilationY: dilationY, dilationX: dilationX,
                       padTop: padTop, padLeft: padLeft, padBottom: padBottom, padRight: padRight, groups: groups)
    }
}

/// Transposed 2D convolution (PyTorch `ConvTranspose2d`, groups 1). Weight IOHW `[in][out][kh][kw]`.
public struct ConvTransposeAttributes: Equatable {
    public var outChannels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int
    public var outputPadding: Int
    public var weight: Int
    public var bias: Int?
    public var activation: FusedActivation

    public init(outChannels: Int, kernel: Int, stride: Int, padding: Int = 0, outputPadding: Int = 0,
                weight: Int, bias: Int?, activation: FusedActivation = .none) {
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    public func geometry(_ input: TensorShape) -> ConvTranspose2dGeometry {
        ConvTranspose2dGeometry(batch: input.batch, inChannels: input.channels, inHeight: input.height,
                                inWidth: input.width, outChannels: outChannels, kernel: kernel, stride: stride,
                                padding: padding, outputPadding: outputPadding)
    }
}

public struct PoolAttributes: Equatable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(kernel: Int, stride: Int, padding: Int = 0) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public func geometry(_ input: TensorShape) -> Pool2dGeometry {
        Pool2dGeometry(batch: input.batch, channels: input.channels, inHeight: input.height, inWidth: input.width,
                       kernel: kernel, stride: stride, padding: padding)
    }
}

public enum UpsampleMode: Equatable {
    case nearest
    case bilinear(alignCorners: Bool)
}

/// Resampling by an integer scale, or (`scale == 0`) to the spatial size of the node's second input.
public struct UpsampleAttributes: Equatable {
    public var mode: UpsampleMode
    public var scale: Int

    public init(mode: UpsampleMode, scale: Int) {
        self.mode = mode
        self.scale = scale
    }
}

/// Inference BatchNorm: parameters gamma, beta, running mean and running variance, each `[channels]`.
public struct BatchNormAttributes: Equatable {
    public var gamma: Int
    public var beta: Int
    public var mean: Int
    public var variance: Int
    public var epsilon: Float
    public var activation: FusedActivation

    public init(gamma: Int, beta: Int, mean: Int, variance: Int, epsilon: Float = 1e-5,
                activation: FusedActivation = .none) {
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
        self.activation = activation
    }
}

/// What a node computes. Each node produces one tensor; `Node.inputs` lists its operands in order.
public enum Op: Equatable {
    /// A graph input; no operands.
    case input(channels: Int)
    case conv2d(ConvAttributes)
    case convTranspose2d(ConvTransposeAttributes)
    case maxPool2d(PoolAttributes)
    case averagePool2d(PoolAttributes)
    /// Adaptive average pooling to `bins x bins` (PSPNet's pyramid; 1 is global average pooling).
    case adaptiveAveragePool2d(bins: Int)
    /// One operand, or two when `scale == 0` (the second gives the output size).
    case upsample(UpsampleAttributes)
    /// Channel concatenation of two or more operands with the same spatial size.
    case concat
    /// Elementwise sum of two operands of the same shape, with an optional fused activation.
    case add(FusedActivation)
    /// Elementwise product; the second operand may have 1 channel (a spatial gate, attention) or
    /// be 1x1 in space (a channel gate).
    case mul
    case batchNorm(BatchNormAttributes)
    case activation(ActivationKind)
    /// Softmax over channels.
    case softmax

    /// A short lowercase name for listings and error messages.
    public var kind: String {
        switch self {
        case .input: return "input"
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "conv_transpose2d"
        case .maxPool2d: return "max_pool2d"
        case .averagePool2d: return "avg_pool2d"
        case .adaptiveAveragePool2d: return "adaptive_avg_pool2d"
        case .upsample: return "upsample"
        case .concat: return "concat"
        case .add: return "add"
        case .mul: return "mul"
        case .batchNorm: return "batch_norm"
        case .activation(.relu): return "relu"
        case .activation(.leakyRelu): return "leaky_relu"
        case .activation(.sigmoid): return "sigmoid"
        case .softmax: return "softmax"
        }
    }
}
