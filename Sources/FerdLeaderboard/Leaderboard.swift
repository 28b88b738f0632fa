import Foundation
import Logging

/// The experiment store: one SQLite file written only by the coordinator and read by `ferd report`.
/// Opening it for writing creates the file if needed and migrates it to the latest schema; opening it
/// read-only (`ferd dashboard`) changes nothing and needs a file already at the latest schema.
public final class Leaderboard {
    /// How a leaderboard is opened.
    public enum Access: Sendable {
        /// Created if missing and migrated; the coordinator's (and the tools that write) mode.
        case readWrite
        /// An existing file at the latest schema, never written: every write throws `SQLITE_READONLY`.
        case readOnly
    }

    let database: Database
    let logger: Logger

    /// The database file.
    public var path: String { database.path }

    /// Whether this leaderboard was opened read-only.
    public var isReadOnly: Bool { database.isReadOnly }

    public init(path: String, access: Access = .readWrite, logger: Logger) throws {
        database = try Database(path: path, readOnly: access == .readOnly, logger: logger)
        self.logger = logger
        switch access {
        case .readWrite:
            try Migrator.migrate(database, logger: logger)
        case .readOnly:
            let version = try Migrator.userVersion(database)
            guard version == Migrator.latestVersion else {
                throw version > Migrator.latestVersion
                    ? LeaderboardError.schemaTooNew(found: version, supported: Migrator.latestVersion, path: path)
                    : LeaderboardError.schemaTooOld(found: version, expected: Migrator.latestVersion, path: path)
            }
        }
    }

    /// Runs `body` in one read transaction: everything it reads comes from the same committed state of the file,
    /// however the coordinator writes meanwhile.
    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        try database.transaction(.read, body)
    }

    /// A number that changes whenever another connection (the coordinator) commits a change to the file.
    public func dataVersion() throws -> Int {
        try database.dataVersion()
    }

    /// Runs `body` in one write transaction: every change it makes through this leaderboard commits together
    /// (each call's own transaction becomes a savepoint) or, if it throws, none does.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        try database.transaction(.immediate, body)
    }

    /// The schema version of the file (`PRAGMA user_version`).
    public func schemaVersion() throws -> Int {
        try Migrator.userVersion(database)
    }

    /// SQLite's `PRAGMA integrity_check` of the file: "ok", or the problems it found, one per line.
    public func integrityCheck() throws -> String {
        try database.query("PRAGMA integrity_check").compactMap { $0.text(0) }.joined(separator: "\n")
    }

    /// The journal mode in effect; "wal" for every leaderboard.
    public func journalMode() throws -> String {
        try database.journalMode()
    }

    func decoder(_ table: String) -> RowDecoder {
        RowDecoder(table: table, path: path)
    }
}

extension Leaderboard {
    private static let experimentColumns = "id, name, content_hash, config, created"

    /// The experiment whose configuration has `contentHash`, if one was run before.
    public func experiment(contentHash: String) throws -> Experiment? {
        try database.query("SELECT \(Self.experimentColumns) FROM experiments WHERE content_hash = ?1",
                           [.text(contentHash)]).first.map(experiment)
    }

    /// The experiment with `id`, if there is one.
    public func experiment(id: Int) throws -> Experiment? {
        try database.query("SELECT \(Self.experimentColumns) FROM experiments WHERE id = ?1", [.int(id)])
            .first.map(experiment)
    }

    /// Every experiment, oldest first.
    public func experiments() throws -> [Experiment] {
        try database.query("SELECT \(Self.experimentColumns) FROM experiments ORDER BY id").map(experiment)
    }

    /// Returns the experiment with `contentHash`, creating it if there is none; `created` says which.
    public func findOrCreateExperiment(name: String, contentHash: String, config: String,
                                       at time: Date) throws -> (experiment: Experiment, created: Bool) {
        try database.transaction {
            if let existing = try experiment(contentHash: contentHash) {
                return (existing, false)
            }
            try database.run("INSERT INTO experiments (name, content_hash, config, created) VALUES (?1, ?2, ?3, ?4)",
                             [.text(name), .text(contentHash), .text(config), .real(time.timeIntervalSince1970)])
            let created = Experiment(id: database.lastInsertRowID, name: name, contentHash: contentHash,
                                     config: config, created: time)
            logger.info("created experiment", metadata: ["name": "\(name)", "id": "\(created.id)"])
            return (created, true)
        }
    }

    private func experiment(_ row: SQLRow) throws -> Experiment {
        let columns = decoder("experiments")
        return Experiment(id: try columns.int(row, 0, "id"), name: try columns.text(row, 1, "name"),
                          contentHash: try columns.text(row, 2, "content_hash"),
                          config: try columns.text(row, 3, "config"), created: try columns.date(row, 4, "created"))
    }
}
