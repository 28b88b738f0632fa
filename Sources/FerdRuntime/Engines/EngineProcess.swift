import Foundation
import Synchronization

/// One engine process: the spec written to its stdin, its stdout read line by line on a background thread,
/// its stderr appended to a log file. A thin shell; what the lines mean is `EngineRun`'s business.
final class EngineProcess: @unchecked Sendable {
    /// What `nextLine(timeout:)` found.
    enum Read {
        case line(String)
        case timedOut
        case endOfOutput
    }

    private let child = ChildProcess()
    private var process: Process { child.process }
    private let lines = Mutex<(queue: [String], ended: Bool)>(([], false))
    private let available = DispatchSemaphore(value: 0)
    let logFile: URL

    /// Starts `arguments[0]` with the rest as its arguments in `directory`, writes `spec` to its stdin and
    /// closes it.
    init(arguments: [String], environment: [String: String], directory: URL, logFile: URL, spec: Data) throws {
        self.logFile = logFile
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logFile.path])
        }
        let log = try FileHandle(forWritingTo: logFile)
        let output = Pipe(), input = Pipe()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = environment
        process.currentDirectoryURL = directory
        process.standardInput = input
        process.standardOutput = output
        process.standardError = log
        do {
            try child.run()
        } catch {
            throw EngineError.option("cannot start the engine \(arguments[0]): \(error.localizedDescription); check the path (--python, or the experiment's engine.command)")
        }
        try? log.close()
        let reader = output.fileHandleForReading
        let thread = Thread { [self] in readLines(from: reader) }
        thread.name = "ferd.engine.stdout"
        thread.start()
        // A spec larger than the pipe buffer is written while the engine reads it.
        let writer = input.fileHandleForWriting
        DispatchQueue.global().async {
            try? writer.write(contentsOf: spec)
            try? writer.close()
        }
    }

    var processIdentifier: Int32 { process.processIdentifier }

    /// The next line of stdout, waiting at most `timeout` seconds.
    func nextLine(timeout: Double) -> Read {
        if let read = take() { return read }
        _ = available.wait(timeout: .now() + timeout)
        return take() ?? .timedOut
    }

    private func take() -> Read? {
        lines.withLock { state in
            if !state.queue.isEmpty { return .line(state.queue.removeFirst()) }
            return state.ended ? .endOfOutput : nil
        }
    }

    private func readLines(from handle: FileHandle) {
        var pending = Data()
        while case let chunk = handle.availableData, !chunk.isEmpty {
            pending.append(chunk)
            var complete: [String] = []
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                complete.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
            if pending.count > EngineEvent.maximumLineBytes {
                complete.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll()
            }
            guard !complete.isEmpty else { continue }
            lines.withLock { $0.queue.append(contentsOf: complete.filter { !$0.isEmpty }) }
            available.signal()
        }
        if !pending.isEmpty { lines.withLock { $0.queue.append(String(decoding: pending, as: UTF8.self)) } }
        lines.withLock { $0.ended = true }
        available.signal()
    }

    /// Asks the engine to finish its epoch and stop (SIGTERM).
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Ends the engine at once (SIGKILL).
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the process to exit: its status, or −signal when a signal ended it.
    func waitForExit() -> Int32 {
        child.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
    }

    var isRunning: Bool { process.isRunning }

    /// True once the process has exited with a non-zero status or by a signal.
    var exitedWithFailure: Bool {
        !process.isRunning && (process.terminationReason == .uncaughtSignal || process.terminationStatus != 0)
    }

    /// The last `count` lines of the engine's log.
    func logTail(_ count: Int = 20) -> [String] {
        guard let data = try? Data(contentsOf: logFile) else { return [] }
        return String(decoding: data.suffix(16_384), as: UTF8.self).split(separator: "\n").suffix(count).map(String.init)
    }
}
