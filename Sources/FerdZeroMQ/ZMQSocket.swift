import Foundation
import CZeroMQ

/// One libzmq socket. Not thread-safe: create, use and close it on one thread. Sends and receives never
/// block (`ZMQ_DONTWAIT`); wait for input with `poll(timeoutMilliseconds:)`.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    /// The context outlives its sockets.
    private let context: ZMQContext
    /// The endpoint last bound or connected, for error messages.
    public private(set) var endpoint: String?
    private var closed = false

    public init(_ context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError("zmq_socket", endpoint: nil)
        }
        self.handle = handle
        self.context = context
    }

    deinit {
        close()
    }

    /// Closes the socket; messages still queued are kept for at most the linger period.
    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        self.endpoint = endpoint
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError("bind", endpoint: endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        self.endpoint = endpoint
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError("connect", endpoint: endpoint) }
    }

    /// The endpoint actually bound, with the port chosen by the system for `tcp://127.0.0.1:*`.
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZMQError("getsockopt(ZMQ_LAST_ENDPOINT)", endpoint: endpoint)
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends the frames as one multipart message without blocking. Throws with `wouldBlock` when the
    /// high-water mark is reached and with `peerUnreachable` when a mandatory ROUTER has no such peer.
    public func send(_ frames: [[UInt8]]) throws(ZMQError) {
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            let flags = ZMQ_DONTWAIT | (index < frames.count - 1 ? ZMQ_SNDMORE : 0)
            let sent = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            guard sent >= 0 else { throw ZMQError("send", endpoint: endpoint) }
        }
    }

    /// Receives one whole multipart message, or nil when none is waiting.
    public func receive() throws(ZMQError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        repeat {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            guard zmq_msg_recv(&message, handle, frames.isEmpty ? ZMQ_DONTWAIT : 0) >= 0 else {
                let error = ZMQError("receive", endpoint: endpoint)
                if error.wouldBlock, frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            let bytes = zmq_msg_data(&message).map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            frames.append(bytes)
        } while hasMoreFrames()
        return frames
    }

    private func hasMoreFrames() -> Bool {
        var more: Int32 = 0
        var size = MemoryLayout<Int32>.size
        return zmq_getsockopt(handle, ZMQ_RCVMORE, &more, &size) == 0 && more != 0
    }

    /// Waits up to `timeoutMilliseconds` (0: just check) for a message to receive; true if one is waiting.
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let ready = zmq_poll(&item, 1, timeoutMilliseconds)
        if ready < 0 {
            let error = ZMQError("poll", endpoint: endpoint)
            if error.code == EINTR { return false }
            throw error
        }
        return item.revents & Int16(ZMQ_POLLIN) != 0
    }
}

extension ZMQSocket {
    /// Waits up to `timeoutMilliseconds` (0: just check) for any of `sockets` to have a message; returns the
    /// indices of those that have one (empty on timeout or interruption).
    public static func poll(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws(ZMQError) -> [Int] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let ready = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
        if ready < 0 {
            let error = ZMQError("poll", endpoint: nil)
            if error.code == EINTR { return [] }
            throw error
        }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
