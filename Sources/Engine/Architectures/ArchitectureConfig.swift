/// The segmentation architectures segrun builds.
public enum Architecture: String, CaseIterable {
    case unet = "unet"
    case unetPlusPlus = "unet++"
    case pspnet = "pspnet"
    case attentionUNet = "attention-unet"
    case resUNet = "res-unet"
    case unet3Plus = "unet3+"

    public var displayName: String {
        switch self {
        case .unet: return "U-Net"
        case .unetPlusPlus: return "U-Net++"
        case .pspnet: return "PSPNet"
        case .attentionUNet: return "Attention U-Net"
        case .resUNet: return "Res-UNet"
        case .unet3Plus: return "UNet 3+"
        }
    }
}

public enum Normalization: String {
    /// BatchNorm after every convolution of a block (folded into the conv for inference).
    case batch
    /// No normalization; the convolutions carry biases.
    case none
}

public enum UpsamplingKind: String {
    /// 2x2 transposed convolution, stride 2, halving the channels (the original U-Net's up-convolution).
    case transposedConv = "transpose"
    /// Bilinear 2x resampling followed by a 1x1 convolution that halves the channels.
    case bilinear
}

/// Everything that determines an architecture's graph. `build()` makes it.
public struct ArchitectureConfig: Equatable {
    public var architecture: Architecture
    public var inChannels: Int
    /// Output channels: 1 for a binary mask (sigmoid), or the number of classes (softmax).
    public var classes: Int
    /// Channels of the first level; each level down doubles them.
    public var baseWidth: Int
    /// Number of 2x down-steps (U-Net family) or backbone stages (PSPNet).
    public var depth: Int
    public var normalization: Normalization
    public var upsampling: UpsamplingKind
    /// U-Net++: one 1x1 head on every top-row node X(0,j), j = 1...depth. UNet 3+: a head on every decoder stage.
    public var deepSupervision: Bool
    /// A squeeze-and-excitation block (Hu et al., reduction 16) at the end of every level block: U-Net,
    /// Res-UNet and Attention U-Net.
    public var squeezeExcitation: Bool = false
    /// UNet 3+'s classification-guided module (Huang et al., 2020): a presence head on the bottleneck (1x1
    /// convolution, global max pooling) whose logits close the heads' classes an image lacks (`PresenceGate`);
    /// the trainer adds a binary cross-entropy on whether each class is in the image.
    public var classificationGuided: Bool = false
    /// 2 builds the 2D network; 3 the same network on volumes (N, C, D, H, W): 3x3x3 convolutions, 2x2x2
    /// pooling and transposed convolutions (U-Net, Res-UNet, Attention U-Net).
    public var spatialRank = 2
    public var seed: UInt64

    public init(architecture: Architecture, inChannels: Int = 1, classes: Int = 1, baseWidth: Int = 32, depth: Int = 4,
                normalization: Normalization = .batch, upsampling: UpsamplingKind = .transposedConv,
                deepSupervision: Bool = false, rank: Int = 2, seed: UInt64 = 0) {
        self.architecture = architecture
        spatialRank = rank
        self.inChannels = inChannels
        self.classes = classes
        self.baseWidth = baseWidth
        self.depth = depth
        self.normalization = normalization
        self.upsampling = upsampling
        self.deepSupervision = deepSupervision
        self.seed = seed
    }

    /// Input H and W (and D in 3D) are padded to a multiple of this before the graph runs, and cropped back after.
    public var inputMultiple: Int { 1 << depth }

    /// Channels at level `i` (0 = full resolution).
    public func width(_ level: Int) -> Int { baseWidth << level }

    public func validate() throws(ArchitectureError) {
        if inChannels < 1 { throw .invalid("input channels must be at least 1, got \(inChannels)") }
        if classes < 1 { throw .invalid("classes must be at least 1, got \(classes)") }
        if baseWidth < 1 { throw .invalid("base width must be at least 1, got \(baseWidth)") }
        if depth < 1 || depth > 6 { throw .invalid("depth must be 1...6, got \(depth)") }
        if spatialRank != 2 && spatialRank != 3 { throw .invalid("networks have 2 or 3 spatial axes, got \(spatialRank)") }
        if spatialRank == 3 && ![.unet, .resUNet, .attentionUNet].contains(architecture) {
            throw .invalid("\(architecture.displayName) is built in 2D only; 3D builds: U-Net, Res-UNet, Attention U-Net")
        }
        if classificationGuided && architecture != .unet3Plus {
            throw .invalid("the classification-guided module is built into UNet 3+, not \(architecture.displayName)")
        }
        if squeezeExcitation && ![.unet, .resUNet, .attentionUNet].contains(architecture) {
            throw .invalid("squeeze-and-excitation blocks are built into U-Net, Res-UNet and Attention U-Net, not \(architecture.displayName)")
        }
    }

    /// Builds the graph: input "image", outputs of logits ("logits", or "head1"..."headN" for U-Net++
    /// with deep supervision).
    public func build() throws(ArchitectureError) -> Graph {
        try validate()
        let b = BlockBuilder(self)
        switch architecture {
        case .unet: UNet.build(b)
        case .unetPlusPlus: UNetPlusPlus.build(b)
        case .pspnet: PSPNet.build(b)
        case .attentionUNet: AttentionUNet.build(b)
        case .resUNet: ResUNet.build(b)
        case .unet3Plus: UNet3Plus.build(b)
        }
        return b.graph
    }
}

public enum ArchitectureError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case unknownPreset(String)

    public var description: String {
        switch self {
        case .invalid(let s): return s
        case .unknownPreset(let name):
            var names = ""
            for p in ArchitecturePreset.all { names += (names.isEmpty ? "" : ", ") + p.name }
            return "unknown preset '\(name)'; presets: \(names)"
        }
    }
}
