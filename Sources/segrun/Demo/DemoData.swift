import Foundation
import ImageIO

/// The real scan `segrun demo` learns by default: 48 axial slices of one T1 MRI (Colin27, 1 mm) with their
/// brain masks, 128x128, built into the binary (`DemoBrainSlices`, written by
/// Benchmarks/demo-data/make_demo_data.py from ../shared/data/brain-mask). Source: the Debian package
/// mricron-data 1.2.20211006+dfsg-4, templates ch2.nii.gz and ch2bet.nii.gz, under the BSD-3-clause license.
enum DemoData {
    static let description = "48 real brain MRI slices (Colin27 T1, 128x128) with brain masks"
    static let license = "Colin27 T1 and brain mask from the Debian package mricron-data 1.2.20211006+dfsg-4 (ch2.nii.gz, ch2bet.nii.gz), BSD-3-clause"

    /// Writes images/, masks/ and dataset.json into `folder` (each file through a rename).
    static func write(to folder: String) throws {
        for sub in ["images", "masks"] { try BinaryFile.makeFolders(folder + "/" + sub) }
        for s in DemoBrainSlices.slices {
            for (sub, base64) in [("images", s.image), ("masks", s.mask)] {
                guard let bytes = Data(base64Encoded: base64) else { throw CLIError("demo data: slice \(s.name) is corrupt") }
                try bytes.write(to: URL(fileURLWithPath: "\(folder)/\(sub)/\(s.name).png"), options: .atomic)
            }
        }
        let json = """
            {
             "name": "demo-brain-mri",
             "task": "binary brain extraction on one real T1 MRI (Colin27), axial slices",
             "classes": ["background", "brain"],
             "mask_values": {"0": "background", "255": "brain"},
             "count": \(DemoBrainSlices.slices.count),
             "source": "\(license)"
            }

            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: folder + "/dataset.json"), options: .atomic)
    }
}
