import Foundation
import ImageIO

/// The pieces of segrun's self-contained HTML reports (demo, train): one style, figures with captions, and
/// pictures embedded as data URIs so that the one file can be mailed or opened anywhere.
enum HTMLPage {
    /// The document up to the opening body tag.
    static func head(_ title: String) -> String {
        """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(title)</title><style>
        body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:28px;color:#222;max-width:1100px}
        h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
        .muted{color:#666;font-size:13px} table{border-collapse:collapse;margin-top:8px}
        td,th{border:1px solid #ccc;padding:6px 12px;text-align:right} th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
        figure{display:inline-block;margin:6px 10px 6px 0;text-align:center} figure img{width:176px;height:176px;image-rendering:pixelated;border:1px solid #ccc}
        figure img.wide{width:auto;height:auto;max-width:100%} figcaption{font-size:12px;color:#444;margin-top:3px} .curves svg{max-width:100%;height:auto;border:1px solid #eee}
        </style></head><body>

        """
    }

    /// A picture with its caption; `wide` keeps the picture's own size (montages, grids).
    static func figure(_ dataURI: String, _ caption: String, wide: Bool = false) -> String {
        "<figure><img\(wide ? " class=\"wide\"" : "") src=\"\(dataURI)\" alt=\"\(caption)\"><figcaption>\(caption)</figcaption></figure>"
    }

    /// RGB pixels as a PNG data URI.
    static func png(_ rgb: [UInt8], _ width: Int, _ height: Int) -> String {
        guard let bytes = try? PNGCodec.encode(rgb, width: width, height: height, channels: 3) else { return "" }
        return "data:image/png;base64," + Data(bytes).base64EncodedString()
    }

    /// A PNG file as a data URI (nil when it cannot be read).
    static func pngFile(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return "data:image/png;base64," + data.base64EncodedString()
    }
}
