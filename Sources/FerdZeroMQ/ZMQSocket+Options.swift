import Foundation
import CZeroMQ

extension ZMQSocket {
    /// Fails sends to unknown or disconnected peers with `peerUnreachable` instead of dropping them (ROUTER).
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, name: "ZMQ_ROUTER_MANDATORY")
    }

    /// Lets a peer that reconnects with an identity in use take it over (ROUTER).
    public func setRouterHandover(_ on: Bool) throws(ZMQError) {
        try setInt(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, name: "ZMQ_ROUTER_HANDOVER")
    }

    /// Messages queued per peer before sends fail (`send`) or the peer stops being read (`receive`).
    public func setHighWaterMarks(send: Int, receive: Int) throws(ZMQError) {
        try setInt(ZMQ_SNDHWM, Int32(send), name: "ZMQ_SNDHWM")
        try setInt(ZMQ_RCVHWM, Int32(receive), name: "ZMQ_RCVHWM")
    }

    /// Peers sending a larger message are disconnected.
    public func setMaxMessageSize(_ bytes: Int) throws(ZMQError) {
        var value = Int64(bytes)
        try set(ZMQ_MAXMSGSIZE, &value, size: MemoryLayout<Int64>.size, name: "ZMQ_MAXMSGSIZE")
    }

    /// How long `close` keeps unsent messages, in milliseconds (0: drop them at once).
    public func setLinger(milliseconds: Int) throws(ZMQError) {
        try setInt(ZMQ_LINGER, Int32(milliseconds), name: "ZMQ_LINGER")
    }

    /// The identity a ROUTER peer sees for this socket; 1 to 255 bytes, not starting with a zero byte.
    public func setRoutingID(_ identity: [UInt8]) throws(ZMQError) {
        var bytes = identity
        try set(ZMQ_ROUTING_ID, &bytes, size: bytes.count, name: "ZMQ_ROUTING_ID")
    }

    /// Makes this socket a CURVE server with `secretKey` (Z85). The ZAP handler of its context, if one
    /// is bound, decides which clients are let in.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try setInt(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
        try setZ85Key(ZMQ_CURVE_SECRETKEY, secretKey, name: "ZMQ_CURVE_SECRETKEY")
        try setString(ZMQ_ZAP_DOMAIN, "ferd", name: "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this socket a CURVE client of the server with public key `serverKey`, using `keyPair`.
    public func setCurveClient(serverKey: String, keyPair: CurveKeyPair) throws(ZMQError) {
        try setZ85Key(ZMQ_CURVE_SERVERKEY, serverKey, name: "ZMQ_CURVE_SERVERKEY")
        try setZ85Key(ZMQ_CURVE_PUBLICKEY, keyPair.publicKey, name: "ZMQ_CURVE_PUBLICKEY")
        try setZ85Key(ZMQ_CURVE_SECRETKEY, keyPair.secretKey, name: "ZMQ_CURVE_SECRETKEY")
    }

    private func setZ85Key(_ option: Int32, _ key: String, name: String) throws(ZMQError) {
        var bytes = Array(key.utf8)
        guard bytes.count == CurveKeyPair.z85Length else {
            throw ZMQError("setsockopt(\(name))", endpoint: endpoint, code: EINVAL)
        }
        bytes.append(0)
        try set(option, &bytes, size: bytes.count, name: name)
    }

    private func setString(_ option: Int32, _ text: String, name: String) throws(ZMQError) {
        var bytes = Array(text.utf8)
        try set(option, &bytes, size: bytes.count, name: name)
    }

    private func setInt(_ option: Int32, _ value: Int32, name: String) throws(ZMQError) {
        var value = value
        try set(option, &value, size: MemoryLayout<Int32>.size, name: name)
    }

    private func set(_ option: Int32, _ value: UnsafeRawPointer, size: Int, name: String) throws(ZMQError) {
        guard zmq_setsockopt(handle, option, value, size) == 0 else {
            throw ZMQError("setsockopt(\(name))", endpoint: endpoint)
        }
    }
}
