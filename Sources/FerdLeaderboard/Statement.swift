import CSQLite

/// A prepared statement, finalized when released. It never outlives its database: statements are either
/// local to one `Database` call or held in that database's statement cache, which is emptied before it closes.
final class Statement {
    let sql: String
    private let handle: OpaquePointer
    private unowned let database: Database

    init(_ sql: String, in database: Database) throws(SQLiteError) {
        var prepared: OpaquePointer?
        let code = sqlite3_prepare_v2(database.handle, sql, -1, &prepared, nil)
        guard code == SQLITE_OK, let prepared else {
            throw database.error(code: code, sql: sql)
        }
        self.sql = sql
        self.handle = prepared
        self.database = database
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Whether the statement has been stepped but not run to completion or reset.
    var isBusy: Bool {
        sqlite3_stmt_busy(handle) != 0
    }

    /// Makes the statement ready to run again: back to its start (releasing any read it holds), with its
    /// parameters unbound. Errors of the previous run are not reported again here.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds `values` to the parameters `?1…?n`.
    func bind(_ values: [SQLValue]) throws(SQLiteError) {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard values.count == expected else {
            throw SQLiteError(code: SQLITE_RANGE, message: "\(values.count) values bound to \(expected) parameters",
                              sql: sql, path: database.path)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32 = switch value {
            case .null: sqlite3_bind_null(handle, index)
            case let .integer(integer): sqlite3_bind_int64(handle, index, integer)
            case let .real(real): sqlite3_bind_double(handle, index, real)
            case let .text(text): sqlite3_bind_text(handle, index, text, -1, Statement.transient)
            case let .blob(bytes):
                bytes.withUnsafeBytes { buffer in
                    sqlite3_bind_blob64(handle, index, buffer.baseAddress, sqlite3_uint64(buffer.count),
                                        Statement.transient)
                }
            }
            guard code == SQLITE_OK else { throw database.error(code: code, sql: sql) }
        }
    }

    /// Runs the statement to completion and returns every row it produced.
    func rows() throws(SQLiteError) -> [SQLRow] {
        var rows: [SQLRow] = []
        while true {
            let code = sqlite3_step(handle)
            switch code {
            case SQLITE_ROW: rows.append(currentRow())
            case SQLITE_DONE: return rows
            default: throw database.error(code: code, sql: sql)
            }
        }
    }

    private func currentRow() -> SQLRow {
        SQLRow(values: (0..<sqlite3_column_count(handle)).map(column))
    }

    private func column(_ index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, index))
            let bytes = sqlite3_column_text(handle, index).map { UnsafeBufferPointer(start: $0, count: count) }
            return .text(bytes.map { String(decoding: $0, as: UTF8.self) } ?? "")
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, index))
            let base = sqlite3_column_blob(handle, index)
            return .blob(base.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? [])
        default:
            return .null
        }
    }

    /// Tells SQLite to copy bound text and blobs.
    private static var transient: sqlite3_destructor_type {
        unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    }
}
