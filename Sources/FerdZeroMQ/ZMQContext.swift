import Foundation
import CZeroMQ

/// A libzmq context. Contexts are thread-safe; sockets made from one must stay on one thread at a time.
/// Terminating the context (on deinit) waits for every socket made from it to be closed.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError("zmq_ctx_new", endpoint: nil) }
        self.handle = handle
    }

    /// Makes every blocking call on this context's sockets fail with `ZMQError.terminated`.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        while zmq_ctx_term(handle) != 0, zmq_errno() == EINTR {}
    }
}
