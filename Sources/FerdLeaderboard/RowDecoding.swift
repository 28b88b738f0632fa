import Foundation

/// Reads typed columns out of rows, reporting a missing or mistyped value as `LeaderboardError.corruptValue`.
struct RowDecoder {
    let table: String
    let path: String

    func int(_ row: SQLRow, _ index: Int, _ column: String) throws(LeaderboardError) -> Int {
        guard let value = row.int(index) else { throw corrupt(column, "expected an integer") }
        return value
    }

    func double(_ row: SQLRow, _ index: Int, _ column: String) throws(LeaderboardError) -> Double {
        guard let value = row.double(index) else { throw corrupt(column, "expected a number") }
        return value
    }

    func text(_ row: SQLRow, _ index: Int, _ column: String) throws(LeaderboardError) -> String {
        guard let value = row.text(index) else { throw corrupt(column, "expected text") }
        return value
    }

    func date(_ row: SQLRow, _ index: Int, _ column: String) throws(LeaderboardError) -> Date {
        Date(timeIntervalSince1970: try double(row, index, column))
    }

    func state(_ row: SQLRow, _ index: Int, _ column: String) throws(LeaderboardError) -> TrialState {
        let raw = try text(row, index, column)
        guard let state = TrialState(rawValue: raw) else { throw corrupt(column, "unknown state \(raw)") }
        return state
    }

    /// Decodes JSON text in the column.
    func json<Value: Decodable>(_ row: SQLRow, _ index: Int, _ column: String,
                                as type: Value.Type) throws(LeaderboardError) -> Value {
        let raw = try text(row, index, column)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(raw.utf8))
        } catch {
            throw corrupt(column, "invalid JSON: \(error)")
        }
    }

    private func corrupt(_ column: String, _ detail: String) -> LeaderboardError {
        .corruptValue(table: table, column: column, detail: detail, path: path)
    }
}

enum JSONText {
    /// Encodes `value` as compact JSON text for a TEXT column.
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    /// An integer matrix (a confusion matrix) as the same compact JSON `JSONEncoder` writes, without its cost
    /// (it dominated the coordinator's time per stored METRIC).
    static func encode(_ matrix: [[Int]]) throws -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(4 * matrix.reduce(1) { $0 + $1.count })
        var digits: [UInt8] = []
        for (row, values) in matrix.enumerated() {
            if row > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "["))
            for (column, value) in values.enumerated() {
                if column > 0 { bytes.append(UInt8(ascii: ",")) }
                if value < 0 { bytes.append(UInt8(ascii: "-")) }
                var rest = value.magnitude
                digits.removeAll(keepingCapacity: true)
                repeat {
                    digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
                    rest /= 10
                } while rest > 0
                bytes.append(contentsOf: digits.reversed())
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
