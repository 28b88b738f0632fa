import FerdLeaderboard
import FerdReport
import FerdSystem
import Foundation
import Logging

/// The server's one read-only connection to the leaderboard: snapshots for the pages (rebuilt only when the
/// coordinator committed something since the last one) and the current version, which a watcher thread checks
/// every `interval` seconds and announces to the long polls waiting for it.
final class LeaderboardFeed: @unchecked Sendable {
    private let leaderboard: Leaderboard
    private let experiment: String?
    private let options: ReportOptions
    private let logger: Logger
    /// Distinguishes this server's versions from an earlier run's, so that a page left open across a restart updates.
    private let instance = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    /// Guards the connection and the cached snapshot.
    private let connection = NSLock()
    private var cached: DashboardSnapshot?
    /// Guards `version` and `stopped`; signalled when either changes.
    private let changes = NSCondition()
    private var version: String?
    private var stopped = false

    init(path: String, experiment: String?, options: ReportOptions, logger: Logger) throws {
        leaderboard = try Leaderboard(path: path, access: .readOnly, logger: logger)
        self.experiment = experiment
        self.options = options
        self.logger = logger
    }

    var path: String { leaderboard.path }

    /// The snapshot of the leaderboard's current state.
    func snapshot() throws -> DashboardSnapshot {
        connection.lock()
        defer { connection.unlock() }
        let current = "\(instance)-\(try leaderboard.dataVersion())"
        if let cached, cached.version == current { return cached }
        // The version is read before the data: a commit in between only makes this snapshot newer than its label,
        // so the next poll re-reads it; no change is missed.
        let snapshot = try DashboardSnapshot.read(leaderboard, experiment: experiment, options: options,
                                                  version: current, now: Date())
        cached = snapshot
        announce(current)
        return snapshot
    }

    /// Waits until the version differs from `since`, the feed stops, or `deadline` (MonotonicClock seconds) passes;
    /// true when the version changed.
    func waitForChange(from since: String, until deadline: Double) -> Bool {
        changes.lock()
        defer { changes.unlock() }
        while version == since, !stopped {
            let left = deadline - MonotonicClock.seconds()
            guard left > 0 else { break }
            _ = changes.wait(until: Date(timeIntervalSinceNow: left))
        }
        return version != since && !stopped
    }

    /// Checks the version every `interval` seconds until `stop()`; run on its own thread.
    func watch(interval: Double) {
        var failing = false
        while !isStopped {
            do {
                connection.lock()
                defer { connection.unlock() }
                announce("\(instance)-\(try leaderboard.dataVersion())")
                if failing { logger.info("reading the leaderboard again", metadata: ["path": "\(path)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("cannot read the leaderboard", metadata: ["path": "\(path)", "error": "\(error)"]) }
                failing = true
            }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    func stop() {
        changes.lock()
        stopped = true
        changes.broadcast()
        changes.unlock()
    }

    private var isStopped: Bool {
        changes.lock()
        defer { changes.unlock() }
        return stopped
    }

    private func announce(_ current: String) {
        changes.lock()
        if version != current {
            version = current
            changes.broadcast()
        }
        changes.unlock()
    }
}
