import CSQLite

/// A failure reported by SQLite, naming the database file and the statement that failed.
public struct SQLiteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The SQLite result code (`SQLITE_BUSY`, `SQLITE_NOTADB`, …).
    public var code: Int32
    /// SQLite's own message.
    public var message: String
    /// The statement that failed, or nil when opening the file failed.
    public var sql: String?
    /// The database file.
    public var path: String

    public init(code: Int32, message: String, sql: String?, path: String) {
        self.code = code
        self.message = message
        self.sql = sql
        self.path = path
    }

    public var description: String {
        var text = "SQLite error \(code) (\(message)) in \(path)"
        if let sql { text += " while running: \(sql)" }
        switch code & 0xFF {
        case SQLITE_NOTADB:
            text += " — the file exists but is not an SQLite database; pass a ferd leaderboard or a new file name"
        case SQLITE_BUSY:
            text += " — another process holds the database; only the coordinator should write to it"
        default:
            break
        }
        return text
    }
}
