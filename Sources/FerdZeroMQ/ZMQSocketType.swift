import CZeroMQ

/// The socket types ferd uses (libzmq 4.3 without the draft API).
public enum ZMQSocketType: Sendable {
    /// The coordinator's socket: routes replies by peer identity.
    case router
    /// A worker's socket: asynchronous requests to one coordinator.
    case dealer
    /// The ZAP handler's socket.
    case reply
    /// A test client of the ZAP handler.
    case request
    /// Sends to connected peers in turn (the gradient ring's link to the next member).
    case push
    /// Receives from every connected PUSH peer (the gradient ring's link from the previous member).
    case pull

    var rawValue: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .reply: ZMQ_REP
        case .request: ZMQ_REQ
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        }
    }
}
