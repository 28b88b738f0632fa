import Foundation

/// A flag one thread raises to ask a run loop on another thread to end.
///
/// Three ways to end: `finishEpochs()` (graceful: a worker lets each running attempt finish its current
/// epoch, reports it, reports the attempt as interrupted and leaves), `stop()` (at once: running attempts
/// are stopped between steps and reported as interrupted where possible) and `abandon()` (as if the process
/// had died: no goodbye at all). A loop that knows no graceful mode treats `finishEpochs()` like `stop()`.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var draining = false
    private var abandoned = false

    public init() {}

    /// Asks the loop to end at once.
    public func stop() {
        lock.withLock { raised = true }
    }

    /// Asks the loop to end once the running work reaches a clean boundary (a worker: the end of each
    /// running attempt's current epoch). `stop()` may follow to end sooner.
    public func finishEpochs() {
        lock.withLock { draining = true }
    }

    /// Asks the loop to end at once without any goodbye, as if its process had died.
    public func abandon() {
        lock.withLock {
            raised = true
            abandoned = true
        }
    }

    /// True once `stop` or `abandon` was called.
    public var isStopped: Bool {
        lock.withLock { raised }
    }

    /// True once any stop was asked for, graceful or not.
    public var isStopRequested: Bool {
        lock.withLock { raised || draining }
    }

    /// True once `finishEpochs` was called.
    public var isDraining: Bool {
        lock.withLock { draining }
    }

    /// True when the loop was asked to end with `abandon`.
    public var isAbandoned: Bool {
        lock.withLock { abandoned }
    }
}
