/// Prepares a command's `--help` discussion for ArgumentParser, which wraps each line at the screen width
/// (80 columns off a terminal). Prose is written wrapped in the source; here each paragraph (consecutive
/// lines that do not start with a space) becomes one line, so it wraps cleanly at any width instead of
/// breaking raggedly twice. Indented lines (examples) stay as written; one longer than `exampleWidth`
/// is split at spaces into shell continuation lines (` \`), so it still copies and runs.
enum HelpText {
    static let exampleWidth = 78

    static func discussion(_ text: String) -> String {
        var out: [String] = []
        var paragraph: [String] = []
        func flush() {
            if !paragraph.isEmpty { out.append(paragraph.joined(separator: " ")) }
            paragraph = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.isEmpty {
                flush()
                out.append("")
            } else if line.hasPrefix(" ") {
                flush()
                out += splitExample(line)
            } else {
                paragraph.append(line)
            }
        }
        flush()
        return out.joined(separator: "\n")
    }

    /// An indented example line as continuation lines no wider than `exampleWidth`, breaking between
    /// options (an option and its value stay together).
    static func splitExample(_ line: String) -> [String] {
        if line.count <= exampleWidth { return [line] }
        let indent = String(line.prefix { $0 == " " })
        var groups: [String] = []
        for word in line.dropFirst(indent.count).split(separator: " ").map(String.init) {
            if let last = groups.last, last.hasPrefix("-"), !last.contains(" "), !word.hasPrefix("-") {
                groups[groups.count - 1] = last + " " + word
            } else {
                groups.append(word)
            }
        }
        var lines: [String] = [], current = ""
        for word in groups {
            let prefix = lines.isEmpty ? indent : indent + "    "
            if !current.isEmpty && (prefix + current + " " + word).count > exampleWidth - 2 {
                lines.append(prefix + current + " \\")
                current = String(word)
            } else {
                current = current.isEmpty ? String(word) : current + " " + word
            }
        }
        lines.append((lines.isEmpty ? indent : indent + "    ") + current)
        return lines
    }
}
