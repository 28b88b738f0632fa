import Foundation

/// Shows a long job's progress: a redrawn bar with rate and ETA on a terminal, a plain line at most
/// every few seconds otherwise (logs, CI); event lines go above the bar. Safe to call from several threads.
final class ProgressReporter: @unchecked Sendable {
    /// A pace and time left measured by the caller, when the reporter's own (units done since `restart`, over
    /// the time since) would be wrong, as for a resumed sweep.
    struct Estimate {
        var pace: String
        var remainingSeconds: Double
    }

    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var started = DispatchTime.now().uptimeNanoseconds
    private var lastPlainLine: UInt64 = 0
    private var lastPlainText = ""
    private var drawn = false

    /// Starts timing a new phase (the rate and ETA are per phase).
    func restart() {
        lock.lock()
        defer { lock.unlock() }
        endLine()
        started = DispatchTime.now().uptimeNanoseconds
        lastPlainLine = 0
    }

    /// Reports `done` of `total` units (`unit` names them) with a short status text; the rate and ETA are the
    /// reporter's own unless `estimate` gives them.
    func update(_ label: String, done: Int, total: Int, unit: String, status: String, estimate: Estimate? = nil) {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        let elapsed = Double(now - started) / 1e9
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let pace = if let estimate {
            ", \(estimate.pace), ETA \(Self.duration(estimate.remainingSeconds))"
        } else {
            elapsed < 0.5 || rate == 0 ? "" : ", " + String(format: "%.2f", rate) + " \(unit)/s, ETA \(Self.duration(remaining))"
        }
        let numbers = "\(done)/\(total) \(unit)" + pace
        if isTerminal {
            let width = 24
            let filled = total > 0 ? min(width, done * width / total) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(numbers)  \(status)".utf8))
            drawn = true
        } else {
            // Plain lines: at most one per 5 s, and an unchanged one at most once a minute.
            let text = "\(label): \(done)/\(total) \(unit)  \(status)"
            let interval: UInt64 = text == lastPlainText ? 60_000_000_000 : 5_000_000_000
            guard now - lastPlainLine > interval || (done == total && text != lastPlainText) else { return }
            lastPlainLine = now
            lastPlainText = text
            FileHandle.standardError.write(Data("\(label): \(numbers)  \(status)\n".utf8))
        }
    }

    /// Prints a line of its own (an event), above the bar on a terminal.
    func log(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if drawn {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
            drawn = false
        }
        FileHandle.standardError.write(Data("\(line)\n".utf8))
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
