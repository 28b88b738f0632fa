import Logging

/// Brings a database to the latest schema, one migration per `BEGIN IMMEDIATE` transaction. Foreign keys are off
/// while it migrates (a migration may rebuild a table that others reference, as SQLite's ALTER TABLE guide does) and
/// checked before they are on again.
enum Migrator {
    /// The schema version this build writes.
    static var latestVersion: Int { Schema.migrations.count }

    static func migrate(_ database: Database, logger: Logger) throws {
        guard try userVersion(database) < latestVersion else {
            if try userVersion(database) > latestVersion {
                throw LeaderboardError.schemaTooNew(found: try userVersion(database), supported: latestVersion, path: database.path)
            }
            return
        }
        try database.execute("PRAGMA foreign_keys=OFF")
        try applyMigrations(database, logger: logger)
        let violations = try database.query("PRAGMA foreign_key_check")
        try database.execute("PRAGMA foreign_keys=ON")
        if !violations.isEmpty {
            throw LeaderboardError.corruptValue(table: "schema", column: "foreign keys",
                                                detail: "\(violations.count) rows refer to missing rows after the migration",
                                                path: database.path)
        }
    }

    private static func applyMigrations(_ database: Database, logger: Logger) throws {
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
