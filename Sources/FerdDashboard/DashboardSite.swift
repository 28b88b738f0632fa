import FerdReport

/// The dashboard's pure core: which request gets which answer, given a snapshot of the leaderboard. No sockets,
/// files or clocks: the server shell reads the snapshot, holds a long poll while `respond` says to wait, and
/// writes the response.
///
/// Routes: `/` the page, `/fragment` its live part (with the version it shows in `X-Ferd-Version`),
/// `/updates?version=V` the current version once it differs from V (the shell holds the request until then, or
/// answers `noChange` after its poll timeout). Only GET and HEAD (405 otherwise); nothing writes.
public struct DashboardSite: Sendable {
    /// Which hosts a request may name in its Host header.
    public enum HostPolicy: Sendable, Equatable {
        /// Only loopback names (localhost, 127.x.x.x, [::1]), so that a web page elsewhere cannot reach a loopback
        /// dashboard by pointing its own name at 127.0.0.1 (DNS rebinding).
        case loopback
        /// Any host (`--public`).
        case any
    }

    /// Where a request goes.
    public enum Route: Sendable, Equatable {
        case page
        case fragment
        /// Changes since the version the page shows.
        case updates(since: String)
        /// Answered at once, without the leaderboard.
        case rejected(HTTPResponse)
    }

    /// What to do with a routed request.
    public enum Outcome: Sendable, Equatable {
        case respond(HTTPResponse)
        /// Hold the request until the leaderboard's version differs from this one (then ask again), or answer
        /// `noChange()` when the poll times out.
        case waitForChange(since: String)
    }

    public let hostPolicy: HostPolicy
    private let page = DashboardPage()

    public init(hostPolicy: HostPolicy = .loopback) {
        self.hostPolicy = hostPolicy
    }

    /// The page's security headers: nothing but itself, inline style and script, and requests to its own origin.
    static let htmlHeaders: [(name: String, value: String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            + "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ]
    static let commonHeaders: [(name: String, value: String)] = [
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
    ]

    public func route(_ request: HTTPRequest) -> Route {
        guard request.method == "GET" || request.method == "HEAD" else {
            return .rejected(Self.finish(.text(405, "the dashboard is read-only: \(request.method) is not allowed, only GET and HEAD",
                                               headers: [("Allow", "GET, HEAD")])))
        }
        if hostPolicy == .loopback, let host = request.host, !Self.isLoopbackHost(host) {
            return .rejected(Self.finish(.text(403, "this dashboard only answers requests for a loopback host "
                + "(127.0.0.1, localhost); start it with --public to serve other names")))
        }
        switch request.path {
        case "/", "/index.html":
            return .page
        case "/fragment":
            return .fragment
        case "/updates":
            guard let version = request.query["version"], !version.isEmpty else {
                return .rejected(Self.finish(.text(400, "give the version the page shows: /updates?version=V "
                    + "(V is the data-version attribute of <main id=\"live\">)")))
            }
            return .updates(since: version)
        default:
            return .rejected(Self.finish(.text(404, "no page at \(request.path); the dashboard serves /, /fragment "
                + "and /updates?version=V")))
        }
    }

    /// The answer to `route` of a HEAD or GET request (`head`), from `snapshot`.
    public func respond(to route: Route, head: Bool = false, snapshot: DashboardSnapshot) -> Outcome {
        switch route {
        case let .rejected(response):
            return .respond(response)
        case .page:
            return .respond(Self.finish(HTTPResponse(status: 200, headers: Self.htmlHeaders,
                                                     body: Array(page.page(snapshot).utf8))))
        case .fragment:
            return .respond(Self.finish(HTTPResponse(
                status: 200, headers: Self.htmlHeaders + [(DashboardPage.versionHeader, snapshot.version)],
                body: Array(page.fragment(snapshot).utf8))))
        case let .updates(since):
            if since != snapshot.version {
                return .respond(Self.finish(.text(200, snapshot.version)))
            }
            return head ? .respond(noChange()) : .waitForChange(since: since)
        }
    }

    /// The answer to a long poll that saw no change before its timeout.
    public func noChange() -> HTTPResponse {
        Self.finish(HTTPResponse(status: 204))
    }

    /// The answer when the leaderboard cannot be read.
    public func unavailable(_ error: any Error) -> HTTPResponse {
        Self.finish(.text(503, "the dashboard cannot read the leaderboard: \(error)"))
    }

    private static func finish(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        response.headers += commonHeaders
        return response
    }

    /// Whether a Host header value (name or address, with an optional port) names this machine's loopback.
    static func isLoopbackHost(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            name = String(name[name.index(after: name.startIndex)..<close])
        } else if let colon = name.lastIndex(of: ":") {
            name = String(name[..<colon])
        }
        if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
