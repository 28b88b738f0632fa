/// Failures of the leaderboard that are not SQLite's own.
public enum LeaderboardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file was written by a newer ferd with a schema this one does not know.
    case schemaTooNew(found: Int, supported: Int, path: String)
    /// A file opened read-only has an older schema than this ferd reads; opening it for writing migrates it.
    case schemaTooOld(found: Int, expected: Int, path: String)
    /// A stored value does not have the expected form.
    case corruptValue(table: String, column: String, detail: String, path: String)
    /// A state change names a trial that is not in the database.
    case unknownTrial(id: Int, path: String)

    public var description: String {
        switch self {
        case let .schemaTooNew(found, supported, path):
            "\(path) has leaderboard schema version \(found) but this ferd supports up to \(supported): upgrade ferd"
        case let .schemaTooOld(found, expected, path):
            "\(path) has leaderboard schema version \(found) but this ferd reads version \(expected): run "
                + "`ferd status --db \(path)` once (it migrates the file), or restart the coordinator with this ferd"
        case let .corruptValue(table, column, detail, path):
            "\(path): unexpected value in \(table).\(column): \(detail)"
        case let .unknownTrial(id, path):
            "\(path) has no trial \(id)"
        }
    }
}
