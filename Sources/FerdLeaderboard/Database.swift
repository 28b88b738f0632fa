import CSQLite
import Logging

/// One connection to an SQLite file, configured for a single writer and concurrent readers:
/// WAL journal, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` transactions.
///
/// A connection is not shareable across threads; keep it inside one actor or task.
public final class Database {
    /// The database file.
    public let path: String
    let handle: OpaquePointer
    private let logger: Logger
    /// Transactions of this connection open right now (the outer one and its savepoints).
    private var depth = 0
    /// Prepared statements of `run(_:_:cached:)` and `query(_:_:cached:)` by SQL text, each reset and
    /// unbound after every use; finalized before the connection closes.
    private var statements: [String: Statement] = [:]
    /// The most statements the cache keeps; SQL beyond that is prepared for each use, as if uncached.
    static let statementCacheLimit = 64
    /// How many statements this connection has prepared for `run` and `query` (cached or not).
    private(set) var statementsPrepared = 0
    /// How many SQL texts the statement cache holds.
    var cachedStatementCount: Int { statements.count }

    /// Whether the connection was opened read-only (every write fails with `SQLITE_READONLY`).
    public let isReadOnly: Bool

    /// Opens (creating if needed) the file at `path`, or with `readOnly` an existing file for reading only.
    /// `busyTimeoutMilliseconds` is how long a statement waits for another connection's lock before failing
    /// with `SQLITE_BUSY`.
    public init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 5_000,
                logger: Logger) throws(SQLiteError) {
        var opened: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(opened)
            throw SQLiteError(code: code, message: message, sql: nil, path: path)
        }
        self.path = path
        self.handle = opened
        self.logger = logger
        self.isReadOnly = readOnly
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        if readOnly {
            try execute("PRAGMA query_only=ON")
        } else {
            try configure()
        }
        logger.debug("opened database", metadata: ["path": "\(path)", "read-only": "\(readOnly)"])
    }

    deinit {
        // Finalize the cached statements first, or the connection would linger until they were.
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    private func configure() throws(SQLiteError) {
        let mode = try query("PRAGMA journal_mode=WAL").first?.text(0)
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, message: "journal mode is \(mode ?? "unknown"), WAL is required",
                              sql: "PRAGMA journal_mode=WAL", path: path)
        }
        try execute("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
    }

    /// A number that changes whenever another connection commits a change to the file (`PRAGMA data_version`);
    /// it stays the same across this connection's own writes.
    public func dataVersion() throws(SQLiteError) -> Int {
        try query("PRAGMA data_version").first?.int(0) ?? 0
    }

    /// The journal mode in effect ("wal" once opened).
    public func journalMode() throws(SQLiteError) -> String {
        try query("PRAGMA journal_mode").first?.text(0) ?? ""
    }

    /// Runs one or more statements separated by semicolons, without parameters or results.
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        guard code == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_free(message)
            throw SQLiteError(code: code, message: text, sql: sql, path: path)
        }
    }

    /// Runs one statement with `bindings` and returns the number of rows it changed. With `cached`, the
    /// statement prepared for `sql` is kept and reused by later calls with the same text.
    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLValue] = [], cached: Bool = false) throws(SQLiteError) -> Int {
        _ = try query(sql, bindings, cached: cached)
        return Int(sqlite3_changes(handle))
    }

    /// Runs one statement with `bindings` and returns its rows. With `cached`, the statement prepared for
    /// `sql` is kept and reused by later calls with the same text (for SQL run often, never for SQL built
    /// from values).
    public func query(_ sql: String, _ bindings: [SQLValue] = [], cached: Bool = false) throws(SQLiteError) -> [SQLRow] {
        guard cached else {
            let statement = try prepare(sql)
            try statement.bind(bindings)
            return try statement.rows()
        }
        let statement: Statement
        if let existing = statements[sql], !existing.isBusy {
            statement = existing
            statement.reset()
        } else {
            statement = try prepare(sql)
            if statements[sql] == nil, statements.count < Self.statementCacheLimit {
                statements[sql] = statement
            }
        }
        // Reset at once so that no statement holds a read (or a bound copy of its values) between uses.
        defer { statement.reset() }
        try statement.bind(bindings)
        return try statement.rows()
    }

    private func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        let statement = try Statement(sql, in: self)
        statementsPrepared += 1
        return statement
    }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int {
        Int(sqlite3_last_insert_rowid(handle))
    }

    /// How a transaction starts.
    public enum TransactionKind: String, Sendable {
        /// `BEGIN IMMEDIATE`: takes the write lock at the start, so a busy database fails (after the busy
        /// timeout) before any work is done, never half-way through.
        case immediate = "BEGIN IMMEDIATE"
        /// `BEGIN`: a read snapshot that does not block the writer (WAL).
        case read = "BEGIN"
    }

    /// Runs `body` inside a transaction, committing if it returns and rolling back if it throws. Inside
    /// another transaction of this connection it is a savepoint of that one (committed with it).
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        if depth > 0 {
            let name = "nested_\(depth)"
            try run("SAVEPOINT \(name)", cached: true)
            depth += 1
            defer { depth -= 1 }
            do {
                let value = try body()
                try run("RELEASE \(name)", cached: true)
                return value
            } catch {
                try? execute("ROLLBACK TO \(name)")
                try? execute("RELEASE \(name)")
                throw error
            }
        }
        try run(kind.rawValue, cached: true)
        depth += 1
        defer { depth -= 1 }
        do {
            let value = try body()
            try run("COMMIT", cached: true)
            return value
        } catch {
            do {
                try execute("ROLLBACK")
            } catch let rollbackError {
                logger.error("rollback failed", metadata: ["error": "\(rollbackError)"])
            }
            throw error
        }
    }

    func error(code: Int32, sql: String) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }
}
