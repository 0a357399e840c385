/// Named architecture presets that every command accepts (`--preset unet-s`). Input channels and
/// classes come from the data or from `--in-channels` / `--classes`. `models/README.md` lists them.
public struct ArchitecturePreset {
    public let name: String
    public let summary: String
    public let config: ArchitectureConfig
    /// The 3D presets whose kernels and pooling follow the data's spacing (`NetworkPlan`): `segrun train` and
    /// `segrun plan` fit them to the dataset.
    public var followsSpacing = false

    init(name: String, summary: String, config: ArchitectureConfig, followsSpacing: Bool = false) {
        self.name = name
        self.summary = summary
        self.config = config
        self.followsSpacing = followsSpacing
    }

    public static let all: [ArchitecturePreset] = [
        ArchitecturePreset(name: "unet-xs", summary: "U-Net, base 16, depth 3 (tests, quick runs)",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 16, depth: 3)),
        ArchitecturePreset(name: "unet-s", summary: "U-Net, base 32, depth 4: widths 32-64-128-256, 512 bottleneck",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 32, depth: 4)),
        ArchitecturePreset(name: "unet-m", summary: "U-Net, base 64, depth 4 (the original widths)",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 64, depth: 4)),
        ArchitecturePreset(name: "unet-bilinear-s", summary: "U-Net, base 32, depth 4, bilinear up path",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 32, depth: 4, upsampling: .bilinear)),
        ArchitecturePreset(name: "unetpp-s", summary: "U-Net++, base 32, depth 4, deep supervision",
                           config: ArchitectureConfig(architecture: .unetPlusPlus, baseWidth: 32, depth: 4, deepSupervision: true)),
        ArchitecturePreset(name: "pspnet-s", summary: "PSPNet, base 32, 4-stage backbone, bins 1-2-3-6",
                           config: ArchitectureConfig(architecture: .pspnet, baseWidth: 32, depth: 4)),
        ArchitecturePreset(name: "attention-unet-s", summary: "Attention U-Net, base 32, depth 4",
                           config: ArchitectureConfig(architecture: .attentionUNet, baseWidth: 32, depth: 4)),
        ArchitecturePreset(name: "res-unet-s", summary: "Res-UNet, base 32, depth 4",
                           config: ArchitectureConfig(architecture: .resUNet, baseWidth: 32, depth: 4)),
        ArchitecturePreset(name: "unet3d-xs", summary: "3D U-Net, base 8, depth 3: 3x3x3 convolutions, 2x2x2 pooling (tests)",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 8, depth: 3, rank: 3)),
        ArchitecturePreset(name: "unet3d-s", summary: "3D U-Net, base 16, depth 4: widths 16-32-64-128, 256 bottleneck, 3x3x3 convolutions",
                           config: ArchitectureConfig(architecture: .unet, baseWidth: 16, depth: 4, rank: 3)),
        ArchitecturePreset(name: "unet3d-m", summary: "3D U-Net, base 32, depth 5, widths capped at 320 (nnU-Net's 3d_fullres), InstanceNorm",
                           config: {
                               var c = ArchitectureConfig(architecture: .unet, baseWidth: 32, depth: 5, normalization: .instance, rank: 3)
                               c.maxWidth = 320
                               return c
                           }()),
        ArchitecturePreset(name: "vnet-s", summary: "V-Net, base 16, depth 4: 5x5x5 convolutions, residual stages of 1-3 convolutions, PReLU, 2x2x2 stride-2 convolutions down",
                           config: ArchitectureConfig(architecture: .vnet, baseWidth: 16, depth: 4, rank: 3)),
        ArchitecturePreset(name: "res-unet3d-s", summary: "3D Res-UNet, base 16, depth 4, InstanceNorm; kernels and pooling follow the data's spacing (segrun plan)",
                           config: ArchitectureConfig(architecture: .resUNet, baseWidth: 16, depth: 4, normalization: .instance, rank: 3),
                           followsSpacing: true),
        ArchitecturePreset(name: "unet3plus-s", summary: "UNet 3+, base 16, depth 4: full-scale skips of 16 channels each, 80-channel decoder, deep supervision",
                           config: ArchitectureConfig(architecture: .unet3Plus, baseWidth: 16, depth: 4, deepSupervision: true)),
    ]

    public static func named(_ name: String) throws(ArchitectureError) -> ArchitecturePreset {
        for p in all where p.name == name { return p }
        throw .unknownPreset(name)
    }
}
