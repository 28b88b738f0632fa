import CZeroMQ

/// One ZeroMQ message frame (a `zmq_msg_t`) whose bytes are read in place: received frames are not copied
/// into Swift arrays, and frames made with `init(borrowing:release:)` hand memory the caller keeps alive to
/// libzmq without copying it. Closed (`zmq_msg_close`) on deinit. Not thread-safe: use it on one thread.
public final class ZMQMessage {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty message (to receive into).
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    /// A message holding a copy of `bytes`.
    public convenience init(_ bytes: [UInt8]) {
        self.init(uninitialized: bytes.count)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, source.count > 0 { data.copyMemory(from: base, byteCount: source.count) }
        }
    }

    /// A message of `count` bytes allocated by libzmq, not yet written.
    private init(uninitialized count: Int) {
        pointer = .allocate(capacity: 1)
        guard zmq_msg_init_size(pointer, count) == 0 else {
            pointer.deallocate()
            fatalError("zmq_msg_init_size(\(count)) failed: out of memory")
        }
    }

    /// A message whose content is `bytes` itself, not a copy (`zmq_msg_init_data`). The caller keeps the
    /// memory alive and unchanged until libzmq is done with it — after the last copy of this message (see
    /// `init(sharing:)`) was sent or closed — when libzmq calls `release`, on whichever thread closes the last
    /// copy (usually a libzmq I/O thread), exactly once.
    public init(borrowing bytes: UnsafeRawBufferPointer, release: @escaping @Sendable () -> Void) {
        pointer = .allocate(capacity: 1)
        let hint = Unmanaged.passRetained(ReleaseBox(release)).toOpaque()
        let data = UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(hint))
        guard zmq_msg_init_data(pointer, data, bytes.count, zmqMessageRelease, hint) == 0 else {
            Unmanaged<ReleaseBox>.fromOpaque(hint).release()
            pointer.deallocate()
            fatalError("zmq_msg_init_data failed: out of memory")
        }
    }

    /// Another message with the same content (`zmq_msg_copy`): large contents are shared, reference-counted
    /// by libzmq, not copied. Used to send the same bytes to several peers.
    public init(sharing other: ZMQMessage) {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
        guard zmq_msg_copy(pointer, other.pointer) == 0 else { fatalError("zmq_msg_copy failed") }
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The number of bytes (0 once the message was sent: libzmq took its content).
    public var count: Int { zmq_msg_size(pointer) }

    private var data: UnsafeMutableRawPointer { zmq_msg_data(pointer)! }

    /// Calls `body` with the message's bytes, in place; they are valid only during the call.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let count = self.count
        return try body(UnsafeRawBufferPointer(start: count == 0 ? nil : UnsafeRawPointer(data), count: count))
    }

    /// A copy of the bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// The network address of the peer a received message came from ("Peer-Address" metadata, such as
    /// `127.0.0.1`); nil for transports without one and for messages not received.
    public var peerAddress: String? {
        guard let value = zmq_msg_gets(pointer, "Peer-Address") else { return nil }
        let address = String(cString: value)
        return address.isEmpty ? nil : address
    }
}

/// The release closure of a borrowed message, retained by libzmq through the free callback's hint.
private final class ReleaseBox {
    let release: @Sendable () -> Void
    init(_ release: @escaping @Sendable () -> Void) { self.release = release }
}

/// libzmq's free callback for `init(borrowing:release:)`.
private func zmqMessageRelease(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<ReleaseBox>.fromOpaque(hint).takeRetainedValue().release()
}

extension ZMQSocket {
    /// Receives one whole multipart message without copying its frames, or nil when none is waiting.
    public func receiveMessage() throws(ZMQError) -> [ZMQMessage]? {
        var frames: [ZMQMessage] = []
        repeat {
            let message = ZMQMessage()
            guard zmq_msg_recv(message.pointer, handle, frames.isEmpty ? ZMQ_DONTWAIT : 0) >= 0 else {
                let error = ZMQError("receive", endpoint: endpoint)
                if error.wouldBlock, frames.isEmpty { return nil }
                throw error
            }
            frames.append(message)
        } while zmq_msg_more(frames[frames.count - 1].pointer) != 0
        return frames
    }

    /// Sends `prefix` (copied, such as a ROUTER identity and a header) and then `payload` as the last frame
    /// without copying it (`zmq_msg_send`: libzmq takes the content and `payload` is left empty) as one
    /// multipart message, without blocking. Returns false, having sent nothing and left `payload` as it was,
    /// when the message cannot be queued now (no peer connected yet or the high-water mark reached).
    public func send(_ prefix: [[UInt8]], payload: ZMQMessage) throws(ZMQError) -> Bool {
        for (index, frame) in prefix.enumerated() {
            let sent = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE) }
            if sent < 0 {
                let error = ZMQError("send", endpoint: endpoint)
                // Nothing is queued until the first frame is accepted; later frames of the message are queued.
                if error.wouldBlock, index == 0 { return false }
                throw error
            }
        }
        // libzmq queues the remaining frames of a message whose first frame was accepted.
        guard zmq_msg_send(payload.pointer, handle, ZMQ_DONTWAIT) >= 0 else {
            let error = ZMQError("send", endpoint: endpoint)
            if error.wouldBlock, prefix.isEmpty { return false }
            throw error
        }
        return true
    }
}
