/// The policy for messages that break a protocol, as a pure core (events in, decisions out; time is a value, no
/// sockets, no logging): which drops are worth a log line, which peers to ignore for a while, and how many messages
/// were dropped, by peer and kind. Each endpoint that reads untrusted traffic (the coordinator, the gradient hub, a
/// worker, a gang member) owns one and logs the `Report`s it returns. docs/PROTOCOL.md states the rules.
///
/// - Warnings: the first drop of a kind from a peer is reported at once; later drops of that kind from that peer are
///   only counted until the peer has sent none of that kind for `summaryInterval` seconds. Each kind makes at most
///   `firstReportsPerInterval` such reports per interval (a flood from many peers is summarised instead), and a kind
///   with counted drops gets one `summary` per `summaryInterval` (from `tick`).
/// - Ignoring (when `strikeLimit` is set): a peer whose last `strikeLimit` messages were all dropped is ignored for
///   `ignoreSeconds`, twice as long at each repeat up to `maximumIgnoreSeconds`; `admit` refuses its messages
///   meanwhile (counted as kind `ignored`, unread). One good message clears its strikes; other peers are unaffected.
/// - Counters: drops by peer and kind since the last `takeCounts()`, for the leaderboard.
/// - Memory: at most `trackedPeers` peers are remembered (the least recently heard one not ignored is forgotten
///   first), and past `trackedPeers` peer-and-kind counters the drops of further peers are counted under
///   `otherPeers`, so a flood of new identities cannot grow memory.
public struct TrafficGuard: Sendable {
    /// The thresholds; the defaults suit a coordinator or hub on a network shared with strangers.
    public struct Configuration: Sendable {
        public var summaryInterval: Double = 30
        public var firstReportsPerInterval = 5
        /// Consecutive dropped messages after which a peer is ignored; nil: never ignore (a worker must keep reading
        /// its only peer, the coordinator).
        public var strikeLimit: Int? = 20
        public var ignoreSeconds: Double = 30
        public var maximumIgnoreSeconds: Double = 900
        public var trackedPeers = 1_024

        public init() {}

        /// The defaults without ignoring: for an endpoint whose only peers it must keep reading (a worker's
        /// coordinator, a gang member's hub and ring).
        public static var neverIgnoring: Configuration {
            var configuration = Configuration()
            configuration.strikeLimit = nil
            return configuration
        }
    }

    /// One dropped message: who sent it, what was wrong (`kind`, a short stable name; `detail`, for the log).
    public struct Drop: Sendable, Equatable {
        public var peer: String
        public var address: String?
        public var kind: String
        public var detail: String

        public init(peer: String, address: String? = nil, kind: String, detail: String) {
            self.peer = peer
            self.address = address
            self.kind = kind
            self.detail = detail
        }
    }

    /// What is worth a log line.
    public enum Report: Sendable, Equatable {
        /// The first drop of its kind from its peer in a while.
        case first(Drop)
        /// Drops of `kind` counted since its last report: `count` messages from `peers` peers over `seconds`,
        /// the most (`busiestCount`) from `busiest`.
        case summary(kind: String, count: Int, peers: Int, busiest: String, busiestCount: Int, seconds: Double)
        /// `peer` is ignored from now on for `seconds`: its last `strikes` messages were all dropped.
        case ignoring(peer: String, address: String?, seconds: Double, strikes: Int)

        /// The report as one log line (the caller prefixes where it happened).
        public var message: String {
            switch self {
            case let .first(drop):
                return "dropped a message from \(Self.name(drop.peer, drop.address)): \(drop.detail) "
                    + "(more of this kind from this peer are counted, not logged)"
            case let .summary(kind, count, peers, busiest, busiestCount, seconds):
                let from = peers == 1 ? Self.name(busiest, nil)
                    : "\(peers) peers, the most (\(busiestCount)) from \(Self.name(busiest, nil))"
                return "dropped \(count) more message\(count == 1 ? "" : "s") of kind \(kind) in the last "
                    + "\(Int(seconds.rounded())) s from \(from)"
            case let .ignoring(peer, address, seconds, strikes):
                return "ignoring \(Self.name(peer, address)) for \(Int(seconds.rounded())) s: its last \(strikes) "
                    + "messages were all dropped"
            }
        }

        /// The kind the report is about; nil for `ignoring`.
        public var kind: String? {
            switch self {
            case let .first(drop): drop.kind
            case let .summary(kind, _, _, _, _, _): kind
            case .ignoring: nil
            }
        }

        /// The peer as logged: names longer than 40 characters (generated identities of strangers) are cut.
        private static func name(_ peer: String, _ address: String?) -> String {
            let shown = peer.count > 40 ? peer.prefix(40) + "…" : peer
            return address.map { "\(shown) at \($0)" } ?? shown
        }
    }

    /// Dropped messages of one kind from one peer, counted since the last `takeCounts()`.
    public struct Count: Sendable, Equatable {
        public var peer: String
        public var address: String?
        public var kind: String
        public var count: Int
    }

    /// The peer under which the drops of peers no longer (or not yet) remembered are counted.
    public static let otherPeers = "(other peers)"
    /// The kind of the messages of an ignored peer.
    public static let ignoredKind = "ignored"

    private struct Peer {
        var address: String?
        var lastHeard: Double
        var strikes = 0
        var offences = 0
        var ignoredUntil = -Double.infinity
        /// When each kind was last dropped from this peer.
        var lastDrop: [String: Double] = [:]
    }

    private struct Window {
        var started: Double
        var firstReports = 0
        var unreported = 0
        var unreportedByPeer: [String: Int] = [:]
    }

    private struct CountKey: Hashable {
        var peer: String
        var kind: String
    }

    public let configuration: Configuration
    private var peers: [String: Peer] = [:]
    private var windows: [String: Window] = [:]
    private var counts: [CountKey: Count] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether to read a message from `peer` at all: false while it is ignored (the message is counted).
    public mutating func admit(_ peer: String, at time: Double) -> Bool {
        guard let state = peers[peer], state.ignoredUntil > time else { return true }
        peers[peer]?.lastHeard = time
        count(Drop(peer: peer, address: state.address, kind: Self.ignoredKind, detail: ""))
        unreported(Self.ignoredKind, peer: peer, at: time)
        return false
    }

    /// A message from `peer` was good: its strikes are cleared.
    public mutating func accepted(_ peer: String) {
        if peers[peer]?.strikes != 0 { peers[peer]?.strikes = 0 }
    }

    /// A message was dropped; returns what to log now.
    public mutating func dropped(_ drop: Drop, at time: Double) -> [Report] {
        var state = peers[drop.peer] ?? remember(drop.peer, at: time)
        state.lastHeard = time
        if let address = drop.address { state.address = address }
        count(drop)
        var reports: [Report] = []
        let quiet = state.lastDrop[drop.kind].map { time - $0 >= configuration.summaryInterval } ?? true
        state.lastDrop[drop.kind] = time
        if quiet, spendReport(on: drop.kind, at: time) {
            reports.append(.first(drop))
        } else {
            unreported(drop.kind, peer: drop.peer, at: time)
        }
        state.strikes += 1
        if let limit = configuration.strikeLimit, state.strikes >= limit {
            state.offences += 1
            let seconds = min(configuration.ignoreSeconds * Double(1 << min(state.offences - 1, 30)),
                              configuration.maximumIgnoreSeconds)
            state.ignoredUntil = time + seconds
            if spendReport(on: "ignoring", at: time) {
                reports.append(.ignoring(peer: drop.peer, address: state.address, seconds: seconds, strikes: state.strikes))
            }
            state.strikes = 0
        }
        peers[drop.peer] = state
        return reports
    }

    /// The summaries that are due at `time`.
    public mutating func tick(at time: Double) -> [Report] {
        var reports: [Report] = []
        for kind in windows.keys.sorted() {
            guard let window = windows[kind], time - window.started >= configuration.summaryInterval else { continue }
            if window.unreported > 0 {
                let busiest = window.unreportedByPeer.max { ($0.value, $1.key) < ($1.value, $0.key) }
                reports.append(.summary(kind: kind, count: window.unreported, peers: window.unreportedByPeer.count,
                                        busiest: busiest?.key ?? Self.otherPeers, busiestCount: busiest?.value ?? 0,
                                        seconds: time - window.started))
                windows[kind] = Window(started: time)
            } else {
                windows[kind] = nil
            }
        }
        return reports
    }

    /// Whether `peer` is being ignored at `time`.
    public func isIgnoring(_ peer: String, at time: Double) -> Bool {
        (peers[peer]?.ignoredUntil ?? -.infinity) > time
    }

    /// The drops counted since the last call, by peer and kind, and forgets them.
    public mutating func takeCounts() -> [Count] {
        defer { counts.removeAll(keepingCapacity: true) }
        return counts.values.sorted { ($0.peer, $0.kind) < ($1.peer, $1.kind) }
    }

    private mutating func remember(_ peer: String, at time: Double) -> Peer {
        if peers.count >= configuration.trackedPeers {
            let forgotten = peers.min { lhs, rhs in
                let lhsIgnored = lhs.value.ignoredUntil > time, rhsIgnored = rhs.value.ignoredUntil > time
                return lhsIgnored != rhsIgnored ? !lhsIgnored : lhs.value.lastHeard < rhs.value.lastHeard
            }
            if let forgotten { peers[forgotten.key] = nil }
        }
        return Peer(lastHeard: time)
    }

    private mutating func count(_ drop: Drop) {
        var key = CountKey(peer: drop.peer, kind: drop.kind)
        if counts[key] == nil, counts.count >= configuration.trackedPeers {
            key.peer = Self.otherPeers
        }
        var entry = counts[key] ?? Count(peer: key.peer, address: nil, kind: drop.kind, count: 0)
        entry.count += 1
        if key.peer == drop.peer, let address = drop.address ?? peers[drop.peer]?.address { entry.address = address }
        counts[key] = entry
    }

    private mutating func spendReport(on kind: String, at time: Double) -> Bool {
        var window = windows[kind] ?? Window(started: time)
        defer { windows[kind] = window }
        guard window.firstReports < configuration.firstReportsPerInterval else { return false }
        window.firstReports += 1
        return true
    }

    private mutating func unreported(_ kind: String, peer: String, at time: Double) {
        var window = windows[kind] ?? Window(started: time)
        window.unreported += 1
        if window.unreportedByPeer[peer] != nil || window.unreportedByPeer.count < configuration.trackedPeers {
            window.unreportedByPeer[peer, default: 0] += 1
        } else {
            window.unreportedByPeer[Self.otherPeers, default: 0] += 1
        }
        windows[kind] = window
    }
}
