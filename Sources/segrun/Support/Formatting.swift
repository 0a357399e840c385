import Foundation

enum Format {
    static func bytes(_ n: Int) -> String {
        let v = Double(n)
        if v >= 1_073_741_824 { return String(format: "%.2f GiB", v / 1_073_741_824) }
        if v >= 1_048_576 { return String(format: "%.1f MiB", v / 1_048_576) }
        if v >= 1024 { return String(format: "%.1f KiB", v / 1024) }
        return "\(n) B"
    }

    static func count(_ n: Double) -> String {
        if n >= 1e9 { return String(format: "%.2f G", n / 1e9) }
        if n >= 1e6 { return String(format: "%.2f M", n / 1e6) }
        if n >= 1e3 { return String(format: "%.1f k", n / 1e3) }
        return String(format: "%.0f", n)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// A one-line progress bar with ETA on stderr. On a terminal it redraws in place; anywhere else (a log
/// file, a pipe, a batch job, TERM=dumb) it writes plain lines without terminal escapes, at most one every
/// `logInterval` seconds across all bars of the process (a task that ends sooner gets none: its command
/// prints its own result).
final class ProgressBar {
    let total: Int
    let label: String
    let start = Date()
    let interactive = ProgressBar.stderrIsTerminal
    static let logInterval = 5.0
    /// When the last plain line was written (any bar), or the process started.
    nonisolated(unsafe) static var lastLogged = Date()
    /// No bars at all (the ranks other than 0 of a data-parallel run).
    nonisolated(unsafe) static var silenced = false

    static let stderrIsTerminal: Bool = isatty(2) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    init(total: Int, label: String) {
        self.total = max(1, total)
        self.label = label
    }

    func update(_ done: Int, note: String = "") {
        if ProgressBar.silenced { return }
        let fraction = Double(done) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let width = 28, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d %3.0f%% elapsed %@ ETA %@", label, bar, done, total, fraction * 100,
                          Format.duration(elapsed), Format.duration(eta)) + (note.isEmpty ? "" : "  " + note)
        if interactive {
            FileHandle.standardError.write(("\r\u{1B}[K" + line + (done >= total ? "\n" : "")).data(using: .utf8)!)
        } else {
            let now = Date()
            if now.timeIntervalSince(ProgressBar.lastLogged) >= ProgressBar.logInterval {
                ProgressBar.lastLogged = now
                FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
            }
        }
    }

    /// A message on its own line (clearing the bar first on a terminal).
    func note(_ message: String) {
        if ProgressBar.silenced { return }
        FileHandle.standardError.write(((interactive ? "\r\u{1B}[K" : "") + message + "\n").data(using: .utf8)!)
    }
}

/// Minimal JSON writing for `--json` outputs (one object per line).
enum JSON {
    static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    /// An object from (key, already-encoded value) pairs, in order.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }
}
