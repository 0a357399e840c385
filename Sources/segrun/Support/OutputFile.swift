import Foundation
import ImageIO

/// A file a command writes (`--out model.segrun`, `--onnx model.onnx`, `--out cam.png`): checked, and its folder
/// made with any missing parents (as the output folders of `predict`, `train` and `synth` are), before the
/// command starts its work, so a mistyped path fails at once instead of after a calibration, an import or an
/// export, and `--out runs/int8/model.segrun` works when `runs/int8` does not exist yet.
func prepareOutputFile(_ path: String) throws {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw CLIError("\(path): cannot write: a folder, where a file is needed")
    }
    let folder = (path as NSString).deletingLastPathComponent
    if folder.isEmpty { return }
    do { try BinaryFile.makeFolders(folder) } catch { throw CLIError("\(error)") }
}
