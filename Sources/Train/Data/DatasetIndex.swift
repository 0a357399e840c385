import Foundation
import ImageIO

/// The files of a dataset, whatever layout it came in: per case, the image file(s) (one per channel for
/// nnU-Net) and the mask, plus the class names the dataset declares.
///
/// Layouts, detected in this order:
/// - **nnU-Net v2 raw**: `dataset.json` with `channel_names`, `labels` and `file_ending`; `imagesTr/CASE_0000.png`
///   (one file per channel, `_0001`, ...) and `labelsTr/CASE.png`.
/// - **folder**: `images/NAME.{png,jpg}` with `masks/NAME.png` (optional `dataset.json` with `classes`).
/// - **RLE CSV** (UW-Madison GI tract): `train.csv` with `id,class,segmentation` rows (id `caseN_dayM_slice_K`),
///   images found below the folder as `.../caseN_dayM/scans/slice_K_*.png`.
/// - **ISIC**: `ISIC_0000000.jpg` with `ISIC_0000000_Segmentation.png` (2017) or `_segmentation.png` (2018),
///   in the same folder, in `masks/`, or in a sibling folder whose name contains "GroundTruth"
///   (`ISIC-2017_Training_Data` beside `ISIC-2017_Training_Part1_GroundTruth`). Superpixel files are skipped.
public struct DatasetIndex {
    public struct Case {
        public var name: String
        public var images: [String]
        /// The mask file, or (RLE datasets) empty with `runs` set.
        public var mask: String
        /// Run-length-encoded masks by class id (1-based): "start length ..." with 1-based starts over the
        /// row-major pixels, as in the UW-Madison GI tract CSV.
        public var runs: [(classId: Int, rle: String)]? = nil
        /// Folder datasets with one mask folder per label (`masks/LABEL/NAME.png`): the mask of each label in
        /// `DatasetIndex.classNames` order, nil where the image has no file for that label (label absent).
        public var labelMasks: [String?]? = nil
        /// UW-Madison file names (`slice_0001_266_266_1.50_1.50.png`): the width, height and pixel spacing
        /// (x, y, in mm) they state.
        public var namedGeometry: (width: Int, height: Int, spacing: [Double])? = nil
    }

    public var cases: [Case]
    public var classNames: [String]?
    public var layout: String

    static let maskSuffixes = ["", "_segmentation", "_Segmentation"]
    static let skippedSuffixes = ["_segmentation", "_Segmentation", "_superpixels"]

    /// The dataset's `dataset.json` as an object; nil when it has none. A file that is not a JSON object is an
    /// error naming it: read as absent, a typo would silently drop the class names or a CT's intensity window.
    static func datasetJSON(_ root: String) throws -> [String: Any]? {
        let path = root + "/dataset.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError.invalid("\(path): cannot read") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw DatasetError.invalid("\(path): not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"))")
        }
        guard let dictionary = object as? [String: Any] else { throw DatasetError.invalid("\(path): expected a JSON object ({...})") }
        return dictionary
    }

    public static func scan(_ root: String) throws -> DatasetIndex {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else { throw DatasetError.notFound(root) }
        if fm.fileExists(atPath: root + "/train.csv") { return try runLengthCSV(root) }
        let json = try datasetJSON(root)
        if let json, json["channel_names"] != nil, fm.fileExists(atPath: root + "/imagesTr") {
            return try nnUNet(root, json)
        }
        let declared = json?["classes"] as? [String]
        let imagesDir = fm.fileExists(atPath: root + "/images") ? root + "/images" : root
        var maskDirs = [root + "/masks", imagesDir]
        let parent = (root as NSString).deletingLastPathComponent
        if imagesDir == root, let siblings = try? fm.contentsOfDirectory(atPath: parent.isEmpty ? "." : parent) {
            maskDirs += siblings.filter { $0.contains("GroundTruth") }.sorted().map { (parent.isEmpty ? "." : parent) + "/" + $0 }
        }
        if let perLabel = try perLabelMasks(root, imagesDir: imagesDir, declared: declared) { return perLabel }
        let files = (try? fm.contentsOfDirectory(atPath: imagesDir)) ?? []
        let images = files.filter { file in
            ImageFile.looksLikeImage(file) && !skippedSuffixes.contains { (file as NSString).deletingPathExtension.hasSuffix($0) }
        }.sorted()
        if images.isEmpty { throw DatasetError.empty(root) }
        var cases: [Case] = []
        var isic = false
        for file in images {
            let stem = (file as NSString).deletingPathExtension
            var found: String? = nil
            search: for dir in maskDirs where fm.fileExists(atPath: dir) {
                for suffix in maskSuffixes {
                    let candidate = dir + "/" + stem + suffix + ".png"
                    if candidate != imagesDir + "/" + file && fm.fileExists(atPath: candidate) {
                        found = candidate
                        if !suffix.isEmpty { isic = true }
                        break search
                    }
                }
            }
            guard let mask = found else {
                throw DatasetError.missingMask(image: imagesDir + "/" + file, expected: "\(maskDirs[0])/\(stem).png or \(stem)_segmentation.png")
            }
            cases.append(Case(name: stem, images: [imagesDir + "/" + file], mask: mask))
        }
        return DatasetIndex(cases: cases, classNames: declared, layout: isic ? "ISIC" : "folder")
    }

    /// `images/NAME.png` with `masks/LABEL/NAME.png`, one folder per label (multi-label data, overlaps allowed):
    /// nil when `masks/` holds no folders. Labels in `dataset.json`'s `classes` order when it lists them all,
    /// else by folder name; an image without a file in a label's folder lacks that label.
    static func perLabelMasks(_ root: String, imagesDir: String, declared: [String]?) throws -> DatasetIndex? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let entries = ((try? fm.contentsOfDirectory(atPath: root + "/masks")) ?? []).filter {
            fm.fileExists(atPath: root + "/masks/" + $0, isDirectory: &isDir) && isDir.boolValue
        }.sorted()
        if entries.isEmpty { return nil }
        var labels = entries
        if let declared {
            let named = declared.filter { $0 != "background" }
            if Set(named) == Set(entries) { labels = named }
        }
        if labels.count > 8 { throw DatasetError.invalid("\(root)/masks: \(labels.count) label folders; multi-label models take up to 8") }
        let images = ((try? fm.contentsOfDirectory(atPath: imagesDir)) ?? []).filter(ImageFile.looksLikeImage).sorted()
        if images.isEmpty { throw DatasetError.empty(root) }
        let cases = images.map { file -> Case in
            let stem = (file as NSString).deletingPathExtension
            let masks = labels.map { label -> String? in
                let path = root + "/masks/" + label + "/" + stem + ".png"
                return fm.fileExists(atPath: path) ? path : nil
            }
            return Case(name: stem, images: [imagesDir + "/" + file], mask: "", labelMasks: masks)
        }
        return DatasetIndex(cases: cases, classNames: labels, layout: "folder, one mask folder per label")
    }

    static func nnUNet(_ root: String, _ json: [String: Any]) throws -> DatasetIndex {
        let fm = FileManager.default
        guard let channels = json["channel_names"] as? [String: Any], !channels.isEmpty else {
            throw DatasetError.invalid("\(root)/dataset.json: channel_names is missing or empty")
        }
        let ending = json["file_ending"] as? String ?? ".png"
        var classNames: [String]? = nil
        if let labels = json["labels"] as? [String: Any] {
            let pairs = labels.compactMap { (name, value) -> (String, Int)? in (value as? Int).map { (name, $0) } }
            if pairs.count != labels.count { throw DatasetError.invalid("\(root)/dataset.json: labels must map names to integer ids (regions are not supported)") }
            let count = (pairs.map { $0.1 }.max() ?? 0) + 1
            var names = (0..<count).map { "class\($0)" }
            for (name, id) in pairs { names[id] = name }
            classNames = names
        }
        let labels = ((try? fm.contentsOfDirectory(atPath: root + "/labelsTr")) ?? []).filter { $0.hasSuffix(ending) }.sorted()
        if labels.isEmpty { throw DatasetError.empty(root + "/labelsTr") }
        var cases: [Case] = []
        for file in labels {
            let name = String(file.dropLast(ending.count))
            var images: [String] = []
            for c in 0..<channels.count {
                let path = root + "/imagesTr/" + name + "_" + String(format: "%04d", c) + ending
                guard fm.fileExists(atPath: path) else { throw DatasetError.missingMask(image: root + "/labelsTr/" + file, expected: path) }
                images.append(path)
            }
            cases.append(Case(name: name, images: images, mask: root + "/labelsTr/" + file))
        }
        return DatasetIndex(cases: cases, classNames: classNames, layout: "nnU-Net v2")
    }

    static func runLengthCSV(_ root: String) throws -> DatasetIndex {
        guard let text = try? String(contentsOfFile: root + "/train.csv", encoding: .utf8) else {
            throw DatasetError.invalid("\(root)/train.csv: cannot read")
        }
        var lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
              let idColumn = header.firstIndex(of: "id"), let classColumn = header.firstIndex(of: "class"),
              let rleColumn = header.firstIndex(where: { $0 == "segmentation" || $0 == "rle" }) else {
            throw DatasetError.invalid("\(root)/train.csv: expected a header with id, class and segmentation columns")
        }
        lines.removeFirst()
        // Images: index every PNG under the folder by "caseN_dayM_slice_K".
        var images: [String: String] = [:]
        if let walker = FileManager.default.enumerator(atPath: root) {
            for case let path as String in walker where path.hasSuffix(".png") {
                let parts = path.split(separator: "/")
                guard parts.count >= 3, parts[parts.count - 2] == "scans" else { continue }
                let file = parts[parts.count - 1].split(separator: "_")
                guard file.count >= 2, file[0] == "slice" else { continue }
                images["\(parts[parts.count - 3])_slice_\(file[1])"] = root + "/" + path
            }
        }
        var classNames = ["background"]
        var byId: [String: [(Int, String)]] = [:]
        var order: [String] = []
        for (n, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > max(idColumn, classColumn, rleColumn) else {
                throw DatasetError.invalid("\(root)/train.csv line \(n + 2): expected \(header.count) fields")
            }
            let id = fields[idColumn], name = fields[classColumn], rle = fields[rleColumn]
            if !classNames.contains(name) { classNames.append(name) }
            if byId[id] == nil { byId[id] = []; order.append(id) }
            if !rle.isEmpty { byId[id]!.append((classNames.firstIndex(of: name)!, rle)) }
        }
        var cases: [Case] = []
        for id in order.sorted() {
            guard let image = images[id] else {
                throw DatasetError.invalid("\(root)/train.csv: no image for '\(id)' (expected .../\(id.replacingOccurrences(of: "_slice_", with: "/scans/slice_"))_*.png)")
            }
            cases.append(Case(name: id, images: [image], mask: "", runs: byId[id]!.map { (classId: $0.0, rle: $0.1) },
                              namedGeometry: uwGeometry((image as NSString).lastPathComponent)))
        }
        if cases.isEmpty { throw DatasetError.empty(root) }
        return DatasetIndex(cases: cases, classNames: classNames, layout: "RLE CSV")
    }

    /// The scan a UW-Madison slice id belongs to ("case123_day20" of "case123_day20_slice_0042"); nil for other names.
    public static func scanName(_ id: String) -> String? {
        id.range(of: "_slice_").map { String(id[..<$0.lowerBound]) }
    }

    /// The width, height and pixel spacing a UW-Madison slice's file name states
    /// (`slice_0001_266_266_1.50_1.50.png`: slice 1, 266 x 266 pixels of 1.50 x 1.50 mm); nil for other names.
    static func uwGeometry(_ file: String) -> (width: Int, height: Int, spacing: [Double])? {
        let parts = (file as NSString).deletingPathExtension.split(separator: "_")
        guard parts.count == 6, parts[0] == "slice", let w = Int(parts[2]), let h = Int(parts[3]),
              let sx = Double(parts[4]), let sy = Double(parts[5]), w > 0, h > 0, sx > 0, sy > 0 else { return nil }
        return (w, h, [sx, sy])
    }

    /// Decodes "start length ..." runs (1-based starts, row-major) into class ids; later classes win overlaps.
    /// With `multilabel`, into label bits instead (class id k sets bit k - 1), so overlapping classes are kept.
    static func decode(_ runs: [(classId: Int, rle: String)], width: Int, height: Int, source: String,
                       multilabel: Bool = false) throws -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: width * height)
        for (classId, rle) in runs {
            let numbers = rle.split(separator: " ").map { Int($0) }
            guard numbers.count % 2 == 0, numbers.allSatisfy({ $0 != nil }) else { throw DatasetError.invalid("\(source): malformed run-length string") }
            for k in stride(from: 0, to: numbers.count, by: 2) {
                let start = numbers[k]! &- 1, length = numbers[k + 1]!  // &-: Int.min is refused below, not a trap
                guard start >= 0, length >= 0, start <= mask.count, length <= mask.count - start else {
                    throw DatasetError.invalid("\(source): run \(numbers[k]!)+\(length) lies outside the \(width)x\(height) image")
                }
                if multilabel {
                    let bit = UInt8(1) << UInt8(classId - 1)
                    for p in start..<(start + length) { mask[p] |= bit }
                } else {
                    for p in start..<(start + length) { mask[p] = UInt8(classId) }
                }
            }
        }
        return mask
    }
}
