import ImageIO
#if canImport(Glibc)
import Glibc
#endif

/// One case of a volume dataset: its image volumes (one per modality) and its label volume.
public struct VolumeCase: Equatable {
    public var name: String
    public var images: [String]
    public var mask: String?

    /// The case's image: its volumes (one per modality) as the channels of one, on the first one's grid.
    public func readImage(limits: VolumeLimits = .standard) throws(VolumeError) -> Volume {
        var volume = try VolumeFile.read(images[0], limits: limits)
        for path in images.dropFirst() {
            let more = try VolumeFile.read(path, limits: limits)
            guard more.size == volume.size else {
                throw .invalid(path: path, field: "dim", reason: "\(more.size.map(String.init).joined(separator: "x")) voxels, the case's first image \(images[0]) has \(volume.size.map(String.init).joined(separator: "x"))")
            }
            volume = Volume(size: volume.size, channels: volume.channels + more.channels, voxels: volume.voxels + more.voxels,
                            spacing: volume.spacing, affine: volume.affine, units: volume.units, source: volume.source)
        }
        return volume
    }
}

/// Volume datasets on disk: the nnU-Net v2 raw layout (`dataset.json`, `imagesTr/CASE_0000.nii.gz` and further
/// modalities `_0001`..., `labelsTr/CASE.nii.gz`) and the plain one (`images/CASE.nii.gz`, `masks/CASE.nii.gz`),
/// with any of NIfTI's and NRRD's endings.
public enum VolumeDataset {
    static func entries(_ folder: String) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// True when `root` holds volumes in either layout.
    public static func holdsVolumes(_ root: String) -> Bool {
        (entries(root + "/imagesTr") + entries(root + "/images")).contains(where: VolumeFile.looksLikeVolume)
    }

    /// The cases of `root`, sorted by name. A case without a label volume has `mask` nil.
    public static func scan(_ root: String) throws(VolumeError) -> [VolumeCase] {
        let nnUNet = !entries(root + "/imagesTr").isEmpty
        let imageFolder = root + (nnUNet ? "/imagesTr" : "/images"), maskFolder = root + (nnUNet ? "/labelsTr" : "/masks")
        let masks = entries(maskFolder).filter(VolumeFile.looksLikeVolume)
        var cases: [String: VolumeCase] = [:]
        for name in entries(imageFolder) where VolumeFile.looksLikeVolume(name) {
            var stem = volumeStem(name)
            if nnUNet {
                // CASE_0000: the modality index after the last underscore.
                guard let underscore = stem.lastIndex(of: "_"), stem[stem.index(after: underscore)...].count == 4,
                      Int(stem[stem.index(after: underscore)...]) != nil else {
                    throw .invalid(path: imageFolder + "/" + name, field: "name", reason: "an nnU-Net image is named CASE_0000 (a 4-digit modality)")
                }
                stem = String(stem[..<underscore])
            }
            var c = cases[stem] ?? VolumeCase(name: stem, images: [], mask: nil)
            c.images.append(imageFolder + "/" + name)
            c.mask = masks.first { volumeStem($0) == stem }.map { maskFolder + "/" + $0 }
            cases[stem] = c
        }
        if cases.isEmpty {
            var info = stat()
            let exists = stat(root, &info) == 0, isFolder = exists && UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR)
            throw .cannotRead(path: root, reason: !exists ? "no such file or folder" : !isFolder ? "a file, where a dataset folder is needed"
                                                  : "no volumes in images/ or imagesTr/ (.nii, .nii.gz, .nrrd, .nhdr, .hdr)")
        }
        return cases.values.sorted { $0.name < $1.name }
    }

    /// A volume's file name without .nii.gz, .nii, .hdr, .nrrd or .nhdr.
    public static func volumeStem(_ path: String) -> String {
        var name = String(path.split(separator: "/").last ?? "")
        for suffix in [".nii.gz", ".hdr.gz", ".nii", ".hdr", ".nrrd", ".nhdr"] where name.asciiLowercased.hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
            break
        }
        return name
    }
}
