/// The segmentation architectures segrun builds.
public enum Architecture: String, CaseIterable {
    case unet = "unet"
    case unetPlusPlus = "unet++"
    case pspnet = "pspnet"
    case attentionUNet = "attention-unet"
    case resUNet = "res-unet"
    case unet3Plus = "unet3+"
    case vnet = "vnet"

    public var displayName: String {
        switch self {
        case .unet: return "U-Net"
        case .unetPlusPlus: return "U-Net++"
        case .pspnet: return "PSPNet"
        case .attentionUNet: return "Attention U-Net"
        case .resUNet: return "Res-UNet"
        case .unet3Plus: return "UNet 3+"
        case .vnet: return "V-Net"
        }
    }
}

public enum Normalization: String {
    /// BatchNorm after every convolution of a block (folded into the conv for inference).
    case batch
    /// InstanceNorm (per image and channel, with a learned scale and shift) after every convolution of a block:
    /// nnU-Net's choice for 3D, where batches are one or two patches.
    case instance
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
    /// U-Net (2D or 3D): auxiliary heads on decoder levels 1 ... depth - 2, for training only (nnU-Net's).
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
    /// The widest level (nnU-Net caps 3D networks at 320 channels); nil: no cap.
    public var maxWidth: Int? = nil
    /// Per level (0 = full resolution, `depth` = the bottleneck): the kernel of its blocks' convolutions, one
    /// extent per spatial axis ([D,] H, W). nil: 3 on every axis. An anisotropic network (`AnisotropicPlan`)
    /// has 1 on an axis whose spacing is still coarse at that level.
    public var levelKernels: [[Int]]? = nil
    /// Per down-step (`depth` of them): the pooling window (and the matching up-step's stride). nil: 2 on every axis.
    public var levelPools: [[Int]]? = nil
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
    public func width(_ level: Int) -> Int { min(baseWidth << level, maxWidth ?? Int.max) }

    /// The kernel of level `level`'s convolutions.
    public func kernel(_ level: Int) -> [Int] { levelKernels?[min(level, levelKernels!.count - 1)] ?? Array(repeating: 3, count: spatialRank) }

    /// The window of down-step `level` (level -> level + 1).
    public func pool(_ level: Int) -> [Int] { levelPools?[min(level, levelPools!.count - 1)] ?? Array(repeating: 2, count: spatialRank) }

    public func validate() throws(ArchitectureError) {
        if inChannels < 1 { throw .invalid("input channels must be at least 1, got \(inChannels)") }
        if classes < 1 { throw .invalid("classes must be at least 1, got \(classes)") }
        if baseWidth < 1 { throw .invalid("base width must be at least 1, got \(baseWidth)") }
        if depth < 1 || depth > 6 { throw .invalid("depth must be 1...6, got \(depth)") }
        if spatialRank != 2 && spatialRank != 3 { throw .invalid("networks have 2 or 3 spatial axes, got \(spatialRank)") }
        if spatialRank == 3 && ![.unet, .resUNet, .attentionUNet, .vnet].contains(architecture) {
            throw .invalid("\(architecture.displayName) is built in 2D only; 3D builds: U-Net, Res-UNet, Attention U-Net, V-Net")
        }
        if architecture == .vnet && spatialRank != 3 { throw .invalid("V-Net is a 3D network (rank 3)") }
        if let maxWidth, maxWidth < baseWidth { throw .invalid("the width cap \(maxWidth) is below the base width \(baseWidth)") }
        if let k = levelKernels, k.count != depth + 1 || k.contains(where: { $0.count != spatialRank || $0.contains { $0 < 1 || $0 % 2 == 0 } }) {
            throw .invalid("level kernels: \(depth + 1) lists (levels and bottleneck) of \(spatialRank) odd extents, got \(k)")
        }
        if let p = levelPools, p.count != depth || p.contains(where: { $0.count != spatialRank || $0.contains { $0 != 1 && $0 != 2 } }) {
            throw .invalid("level pools: \(depth) lists of \(spatialRank) windows of 1 or 2, got \(p)")
        }
        if deepSupervision && ![.unet, .unetPlusPlus, .unet3Plus].contains(architecture) {
            throw .invalid("deep supervision is built into U-Net (2D and 3D), U-Net++ and UNet 3+, not \(architecture.displayName)")
        }
        if deepSupervision && architecture == .unet && depth < 3 {
            throw .invalid("a U-Net's deep supervision adds heads on decoder levels 1 ... depth - 2; depth \(depth) has none (use depth 3 or more)")
        }
        if classificationGuided && architecture != .unet3Plus {
            throw .invalid("the classification-guided module is built into UNet 3+, not \(architecture.displayName)")
        }
        if squeezeExcitation && ![.unet, .resUNet, .attentionUNet].contains(architecture) {
            throw .invalid("squeeze-and-excitation blocks are built into U-Net, Res-UNet and Attention U-Net, not \(architecture.displayName)")
        }
    }

    /// Builds the graph: input "image", outputs of logits ("logits", or "head1"..."headN" for U-Net++ and
    /// UNet 3+ with deep supervision; a U-Net's adds auxiliary "aux1"... before "logits").
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
        case .vnet: VNet.build(b)
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
