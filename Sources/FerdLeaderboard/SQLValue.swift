/// A value bound to a statement parameter or read from a result column.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// An integer value from a Swift `Int`.
    public static func int(_ value: Int) -> SQLValue {
        .integer(Int64(value))
    }

    /// `.integer` for a number, `.null` for nil.
    public static func optionalInt(_ value: Int?) -> SQLValue {
        value.map(SQLValue.int) ?? .null
    }

    /// `.real` for a number, `.null` for nil.
    public static func optionalReal(_ value: Double?) -> SQLValue {
        value.map(SQLValue.real) ?? .null
    }

    /// `.text` for a string, `.null` for nil.
    public static func optionalText(_ value: String?) -> SQLValue {
        value.map(SQLValue.text) ?? .null
    }
}

/// One result row: the column values in the order the query selected them.
public struct SQLRow: Sendable {
    public var values: [SQLValue]

    public init(values: [SQLValue]) {
        self.values = values
    }

    /// The integer in column `index`, or nil if it is NULL or not an integer.
    public func int(_ index: Int) -> Int? {
        if case let .integer(value) = values[index] { return Int(value) }
        return nil
    }

    /// The number in column `index` (integers are widened), or nil if it is NULL or not a number.
    public func double(_ index: Int) -> Double? {
        switch values[index] {
        case let .real(value): value
        case let .integer(value): Double(value)
        default: nil
        }
    }

    /// The text in column `index`, or nil if it is NULL or not text.
    public func text(_ index: Int) -> String? {
        if case let .text(value) = values[index] { return value }
        return nil
    }
}
