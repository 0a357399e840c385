extension StringProtocol {
    /// The string with its ASCII letters lowercased and every other character as it is. File extensions and the
    /// keywords of file formats (NRRD fields, orientation codes) are ASCII; `lowercased()` would also link the
    /// standard library's Unicode case tables into the edge binary (about 15 KB) for nothing.
    public var asciiLowercased: String {
        String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// The string with its ASCII letters uppercased and every other character as it is (see `asciiLowercased`).
    public var asciiUppercased: String {
        String(decoding: utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 & 0xDF : $0 }, as: UTF8.self)
    }
}
