import CZeroMQ

extension ZMQSocket {
    /// Sends `header` and then `payload` (contiguous memory, copied once by libzmq) as one two-frame message
    /// without blocking. Returns false, having sent nothing, when the message cannot be queued now (no peer
    /// connected yet or the high-water mark reached); the caller polls and retries.
    public func send(header: [UInt8], payload: UnsafeRawBufferPointer) throws(ZMQError) -> Bool {
        let first = header.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE) }
        if first < 0 {
            let error = ZMQError("send", endpoint: endpoint)
            if error.wouldBlock { return false }
            throw error
        }
        // libzmq queues the remaining frames of a message whose first frame was accepted.
        guard zmq_send(handle, payload.baseAddress, payload.count, ZMQ_DONTWAIT) >= 0 else {
            throw ZMQError("send", endpoint: endpoint)
        }
        return true
    }
}
