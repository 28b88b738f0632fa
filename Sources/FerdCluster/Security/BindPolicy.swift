/// Decides whether the coordinator may bind an endpoint: anything reachable from other machines needs
/// CURVE keys unless the operator explicitly asked for an insecure coordinator.
public enum BindPolicy {
    /// Why a bind was refused.
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public var endpoint: String

        public var description: String {
            "refusing to bind \(endpoint) without CURVE keys: other machines could join and receive trial "
                + "configurations; configure a CURVE key pair, or allow it explicitly (insecure) on a trusted network"
        }
    }

    /// Throws unless `endpoint` is loopback-only, or keys are configured, or `insecure` is set.
    public static func check(endpoint: String, hasKeys: Bool, insecure: Bool) throws(Refusal) {
        guard hasKeys || insecure || isLoopback(endpoint) else { throw Refusal(endpoint: endpoint) }
    }

    /// True for `inproc://`, `ipc://` and TCP endpoints on 127.0.0.0/8, `[::1]` or `localhost`.
    public static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("inproc://") || endpoint.hasPrefix("ipc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let address = endpoint.dropFirst("tcp://".count)
        if address.hasPrefix("[::1]:") || address.hasPrefix("localhost:") { return true }
        guard let colon = address.lastIndex(of: ":") else { return false }
        let octets = address[..<colon].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { octet in UInt8(octet).map { _ in true } ?? false }
    }
}
