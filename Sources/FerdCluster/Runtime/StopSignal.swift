import Foundation

/// A flag one thread raises to ask a run loop on another thread to end.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var abandoned = false

    public init() {}

    /// Asks the loop to end.
    public func stop() {
        lock.withLock { raised = true }
    }

    /// Asks the loop to end at once without any goodbye, as if its process had died.
    public func abandon() {
        lock.withLock {
            raised = true
            abandoned = true
        }
    }

    public var isStopped: Bool {
        lock.withLock { raised }
    }

    /// True when the loop was asked to end with `abandon`.
    public var isAbandoned: Bool {
        lock.withLock { abandoned }
    }
}
