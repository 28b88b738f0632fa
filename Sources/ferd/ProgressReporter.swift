import Foundation

/// Shows a long job's progress: a redrawn bar with rate and ETA on a terminal, a plain line at most
/// every few seconds otherwise (logs, CI). Safe to call from several threads.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var started = DispatchTime.now().uptimeNanoseconds
    private var lastPlainLine: UInt64 = 0
    private var drawn = false

    /// Starts timing a new phase (the rate and ETA are per phase).
    func restart() {
        lock.lock()
        defer { lock.unlock() }
        endLine()
        started = DispatchTime.now().uptimeNanoseconds
        lastPlainLine = 0
    }

    /// Reports `done` of `total` units (`unit` names them) with a short status text.
    func update(_ label: String, done: Int, total: Int, unit: String, status: String) {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        let elapsed = Double(now - started) / 1e9
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let pace = elapsed < 0.5 ? "" : ", " + String(format: "%.2f", rate) + " \(unit)/s, ETA \(Self.duration(remaining))"
        let numbers = "\(done)/\(total) \(unit)" + pace
        if isTerminal {
            let width = 24
            let filled = total > 0 ? min(width, done * width / total) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(numbers)  \(status)".utf8))
            drawn = true
        } else if now - lastPlainLine > 5_000_000_000 || done == total {
            lastPlainLine = now
            FileHandle.standardError.write(Data("\(label): \(numbers)  \(status)\n".utf8))
        }
    }

    /// Ends the bar's line so that ordinary output follows on a new line.
    func finishLine() {
        lock.lock()
        defer { lock.unlock() }
        endLine()
    }

    private func endLine() {
        if drawn {
            FileHandle.standardError.write(Data("\n".utf8))
            drawn = false
        }
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%dh%02dm", total / 3600, total % 3600 / 60)
            : String(format: "%dm%02ds", total / 60, total % 60)
    }
}
