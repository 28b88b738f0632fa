import Logging

/// Brings a database to the latest schema, one migration per `BEGIN IMMEDIATE` transaction.
enum Migrator {
    /// The schema version this build writes.
    static var latestVersion: Int { Schema.migrations.count }

    static func migrate(_ database: Database, logger: Logger) throws {
        while true {
            let applied = try database.transaction { () throws -> Bool in
                let version = try userVersion(database)
                guard version <= latestVersion else {
                    throw LeaderboardError.schemaTooNew(found: version, supported: latestVersion, path: database.path)
                }
                guard version < latestVersion else { return false }
                try database.execute(Schema.migrations[version])
                try database.execute("PRAGMA user_version = \(version + 1)")
                logger.info("migrated leaderboard schema",
                            metadata: ["path": "\(database.path)", "version": "\(version + 1)"])
                return true
            }
            if !applied { return }
        }
    }

    static func userVersion(_ database: Database) throws(SQLiteError) -> Int {
        try database.query("PRAGMA user_version").first?.int(0) ?? 0
    }
}
