import CZeroMQ
import Foundation

/// A failed libzmq call: what was attempted, on which endpoint, and libzmq's errno with its text.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The libzmq call or option that failed, such as "bind" or "setsockopt(ZMQ_LINGER)".
    public var operation: String
    /// The endpoint the socket is bound or connected to, when it has one.
    public var endpoint: String?
    /// `zmq_errno()` right after the failure.
    public var code: Int32
    /// `zmq_strerror(code)`.
    public var text: String

    /// The errno libzmq reports once its context is terminated.
    public static let terminated: Int32 = ZMQ_HAUSNUMERO + 53

    init(_ operation: String, endpoint: String?, code: Int32 = zmq_errno()) {
        self.operation = operation
        self.endpoint = endpoint
        self.code = code
        self.text = String(cString: zmq_strerror(code))
    }

    /// The operation would block: nothing to receive, or the send high-water mark is reached.
    public var wouldBlock: Bool { code == EAGAIN }

    /// A ROUTER with `ZMQ_ROUTER_MANDATORY` has no connected peer with the addressed identity: it is gone.
    public var peerUnreachable: Bool { code == EHOSTUNREACH }

    /// The context was shut down or terminated.
    public var contextTerminated: Bool { code == Self.terminated }

    public var description: String {
        "zmq \(operation)\(endpoint.map { " on \($0)" } ?? "") failed: \(text) (errno \(code))"
    }
}
