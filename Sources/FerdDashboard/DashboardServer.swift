import FerdReport
import FerdSystem
import Foundation
import Logging

/// `ferd dashboard`'s HTTP/1.1 server, the I/O shell of `DashboardSite`: a listening socket, one thread per
/// connection (bounded in number, each request head bounded in size and time), a read-only connection to the
/// leaderboard and long polls held until it changes. Every connection closes after its response.
public final class DashboardServer: @unchecked Sendable {
    /// How the server listens and what it shows.
    public struct Options: Sendable {
        public var bind: BindAddress
        /// Whether a non-loopback address may be bound (the page has no authentication).
        public var allowPublic: Bool
        /// The reported experiment, as `ferd report --experiment` takes it; nil: the newest.
        public var experiment: String?
        public var report: ReportOptions
        /// Seconds a long poll is held before it is answered 204 No Content.
        public var pollTimeout: Double
        /// Seconds between checks of the leaderboard for changes.
        public var watchInterval: Double
        /// Seconds a client may take to send its request head (and to take the response).
        public var requestTimeout: Double
        /// Connections served at once; more are answered 503 at once.
        public var maxConnections: Int

        public init(bind: BindAddress = BindAddress(host: "127.0.0.1", port: 8080), allowPublic: Bool = false,
                    experiment: String? = nil, report: ReportOptions = ReportOptions(), pollTimeout: Double = 20,
                    watchInterval: Double = 0.25, requestTimeout: Double = 10, maxConnections: Int = 64) {
            self.bind = bind
            self.allowPublic = allowPublic
            self.experiment = experiment
            self.report = report
            self.pollTimeout = pollTimeout
            self.watchInterval = watchInterval
            self.requestTimeout = requestTimeout
            self.maxConnections = maxConnections
        }
    }

    /// Where the server listens, with the port the system chose when the requested one was 0.
    public let address: BindAddress
    /// Whether that address is reachable from other machines.
    public let isPublic: Bool
    private let options: Options
    private let site: DashboardSite
    private let feed: LeaderboardFeed
    private let listener: Int32
    private let logger: Logger
    private let state = NSLock()
    private var stopping = false
    private var connections = 0
    private var waiting = 0

    /// Opens the leaderboard at `databasePath` read-only and listens on `options.bind`; serves nothing until `run()`.
    public init(databasePath: String, options: Options, logger: Logger) throws {
        feed = try LeaderboardFeed(path: databasePath, experiment: options.experiment, options: options.report,
                                   logger: logger)
        let socket = try Sockets.openListener(on: options.bind, allowPublic: options.allowPublic)
        listener = socket.descriptor
        address = socket.bound
        isPublic = !BindAddress.isLoopback(numericAddress: socket.numeric)
        site = DashboardSite(hostPolicy: isPublic ? .any : .loopback)
        self.options = options
        self.logger = logger
        if isPublic {
            logger.warning("""
                the dashboard listens on a public address and has no authentication: anyone who can reach it can read \
                the leaderboard
                """, metadata: ["address": "\(address)"])
        }
    }

    deinit {
        close(listener)
    }

    /// The long polls held right now, waiting for the leaderboard to change.
    public var pollsWaiting: Int {
        state.lock()
        defer { state.unlock() }
        return waiting
    }

    /// Serves until `stop()`; blocks the calling thread.
    public func run() {
        let watcher = Thread { [feed, options] in feed.watch(interval: options.watchInterval) }
        watcher.start()
        logger.info("dashboard serving", metadata: ["url": "http://\(address)/", "database": "\(feed.path)"])
        while !isStopping {
            guard let connection = Sockets.nextConnection(listener, waitingMilliseconds: 200) else { continue }
            Sockets.setTimeouts(connection, seconds: options.requestTimeout)
            guard admit() else {
                Sockets.write(connection, HTTPResponse.text(503, "too many connections; try again").bytes())
                Sockets.finish(connection)
                continue
            }
            let thread = Thread { [self] in
                serve(connection)
                release()
            }
            thread.start()
        }
    }

    /// Makes `run()` return and answers the held long polls; the socket closes when the server is released.
    public func stop() {
        state.lock()
        stopping = true
        state.unlock()
        feed.stop()
    }

    private var isStopping: Bool {
        state.lock()
        defer { state.unlock() }
        return stopping
    }

    private func admit() -> Bool {
        state.lock()
        defer { state.unlock() }
        guard connections < options.maxConnections else { return false }
        connections += 1
        return true
    }

    private func release() {
        state.lock()
        connections -= 1
        state.unlock()
    }

    private func serve(_ connection: Int32) {
        var reader = HTTPRequestReader()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var status = HTTPRequestReader.State.needMore
        let deadline = MonotonicClock.seconds() + options.requestTimeout
        let late = HTTPResponse.text(408, "the request head took longer than \(options.requestTimeout) s; send it at once")
        while status == .needMore {
            guard MonotonicClock.seconds() < deadline else {
                status = .invalid(late)
                break
            }
            switch Sockets.receive(connection, into: &buffer) {
            case let .bytes(bytes):
                status = reader.append(bytes)
            case .timedOut:
                status = .invalid(late)
            case .closed:
                Sockets.finish(connection)
                return
            }
        }
        let response: HTTPResponse
        var head = false
        switch status {
        case let .complete(request):
            head = request.method == "HEAD"
            response = answer(request, head: head)
            logger.debug("request", metadata: ["method": "\(request.method)", "path": "\(request.path)",
                                               "status": "\(response.status)"])
        case let .invalid(rejection):
            response = rejection
        case .needMore:
            return
        }
        Sockets.write(connection, response.bytes(forHead: head))
        Sockets.finish(connection)
    }

    private func answer(_ request: HTTPRequest, head: Bool) -> HTTPResponse {
        let route = site.route(request)
        if case let .rejected(response) = route { return response }
        let deadline = MonotonicClock.seconds() + options.pollTimeout
        while true {
            let snapshot: DashboardSnapshot
            do {
                snapshot = try feed.snapshot()
            } catch {
                logger.warning("cannot read the leaderboard", metadata: ["error": "\(error)"])
                return site.unavailable(error)
            }
            switch site.respond(to: route, head: head, snapshot: snapshot) {
            case let .respond(response):
                return response
            case let .waitForChange(since):
                holding(+1)
                let changed = feed.waitForChange(from: since, until: deadline)
                holding(-1)
                if !changed { return site.noChange() }
            }
        }
    }

    private func holding(_ change: Int) {
        state.lock()
        waiting += change
        state.unlock()
    }
}
