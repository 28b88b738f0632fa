import Dispatch
import Foundation

/// Starts a `Process` and waits for its exit through its termination handler. Foundation's `waitUntilExit()`
/// polls the calling thread's run loop and has been seen to hang on Linux in containers when called off the main
/// thread after the child had exited (swift-corelibs-foundation, swiftlang/swift#79881); a termination handler,
/// installed before the launch so that a fast exit cannot be missed, does not depend on that run loop.
public final class ChildProcess: @unchecked Sendable {
    /// The process; configure it before `run()` and do not set its `terminationHandler`.
    public let process = Process()
    private let running = DispatchGroup()

    public init() {}

    /// Launches the process (`Process.run()`).
    public func run() throws {
        running.enter()
        process.terminationHandler = { [running] _ in running.leave() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            running.leave()
            throw error
        }
    }

    /// Blocks until the process has exited (returns at once if it never started).
    public func waitUntilExit() {
        running.wait()
    }
}
