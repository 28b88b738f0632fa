/// Where the dashboard listens: `HOST:PORT` as `--bind` takes it (`127.0.0.1:8080`, `localhost:0`, `[::1]:8080`,
/// `0.0.0.0:8080`); port 0 picks a free port.
public struct BindAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; an IPv6 address goes in brackets.
    public init(parsing text: String) throws(DashboardError) {
        let invalid = DashboardError.invalidBind(text)
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw invalid }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw invalid }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = UInt16(port) else { throw invalid }
        self.init(host: String(host), port: number)
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether a numeric address (as getaddrinfo gives it) is a loopback address: 127.0.0.0/8, ::1, or
    /// 127.x.x.x mapped into IPv6.
    public static func isLoopback(numericAddress address: String) -> Bool {
        let lowered = address.lowercased()
        if lowered == "::1" { return true }
        let v4 = lowered.hasPrefix("::ffff:") ? String(lowered.dropFirst(7)) : lowered
        let octets = v4.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// Why the dashboard cannot start or serve; each message names the problem and what to do.
public enum DashboardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `--bind` is not HOST:PORT.
    case invalidBind(String)
    /// The host does not resolve to an address.
    case unresolvableHost(String, reason: String)
    /// The address is not loopback and `--public` was not given.
    case notLoopback(BindAddress, resolved: String)
    /// Another program listens on the address.
    case addressInUse(BindAddress)
    /// Binding failed for another reason (permission for ports below 1024, an address not on this machine, …).
    case cannotListen(BindAddress, reason: String)

    public var description: String {
        switch self {
        case let .invalidBind(text):
            "--bind \"\(text)\" is not HOST:PORT; use e.g. --bind 127.0.0.1:8080, --bind [::1]:8080, or port 0 for any free port"
        case let .unresolvableHost(host, reason):
            "--bind host \"\(host)\" does not resolve (\(reason)); give an address such as 127.0.0.1"
        case let .notLoopback(address, resolved):
            "--bind \(address) (\(resolved)) is reachable from other machines and the dashboard has no authentication: "
                + "add --public to serve it there anyway, or keep the default 127.0.0.1 and forward the port "
                + "(ssh -L 8080:127.0.0.1:8080 THIS-HOST)"
        case let .addressInUse(address):
            "\(address) is already in use by another program (another dashboard?): pick another port, e.g. "
                + "--bind \(BindAddress(host: address.host, port: address.port == 65535 ? 8080 : address.port + 1)), "
                + "or port 0 for any free port"
        case let .cannotListen(address, reason):
            "cannot listen on \(address): \(reason); ports below 1024 need privileges, and the address must be one of "
                + "this machine's"
        }
    }
}
