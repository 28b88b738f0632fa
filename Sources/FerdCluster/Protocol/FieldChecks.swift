/// Semantic checks shared by encoding and decoding, so that neither side produces or accepts a bad value.
enum FieldCheck {
    static func finite(_ value: Double, _ field: String) throws(ProtocolError) {
        guard value.isFinite else { throw .nonFinite(field: field) }
    }

    /// Finite and within 0...1 (recalls and accuracies).
    static func fraction(_ value: Double, _ field: String) throws(ProtocolError) {
        try finite(value, field)
        guard (0...1).contains(value) else {
            throw .invalidValue(field: field, reason: "\(value) is outside [0, 1]")
        }
    }

    /// Finite and not negative (learning rates, durations).
    static func nonNegative(_ value: Double, _ field: String) throws(ProtocolError) {
        try finite(value, field)
        guard value >= 0 else { throw .invalidValue(field: field, reason: "\(value) is negative") }
    }

    static func atLeast(_ minimum: Int, _ value: Int, _ field: String) throws(ProtocolError) {
        guard value >= minimum else {
            throw .invalidValue(field: field, reason: "\(value) is below the minimum of \(minimum)")
        }
    }

    static func notEmpty(_ value: String, _ field: String) throws(ProtocolError) {
        guard !value.isEmpty else { throw .invalidValue(field: field, reason: "must not be empty") }
    }

    static func count(_ actual: Int, equals expected: Int, _ field: String) throws(ProtocolError) {
        guard actual == expected else {
            throw .wrongShape(field: field, expected: "\(expected)", found: "\(actual)")
        }
    }

    /// A confusion matrix of `WireFormat.classCount` rows of `classCount` counts each.
    static func confusionMatrix(_ matrix: [[Int]]) throws(ProtocolError) {
        try confusionMatrix(rows: matrix.count, columns: matrix.map(\.count))
    }

    /// The shape of a confusion matrix: `rows` rows whose lengths are `columns`, each `classCount`.
    static func confusionMatrix(rows: Int, columns: [Int]) throws(ProtocolError) {
        let classes = WireFormat.classCount
        guard rows == classes, columns.allSatisfy({ $0 == classes }) else {
            let found = "\(rows)×\(columns.map(String.init).joined(separator: "/"))"
            throw .wrongShape(field: "confusion matrix", expected: "\(classes)×\(classes)", found: found)
        }
    }

    /// Exactly 64 lowercase hexadecimal digits.
    static func sha256Hex(_ value: String, _ field: String) throws(ProtocolError) {
        let isHex = value.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard value.utf8.count == 64, isHex else {
            throw .invalidValue(field: field, reason: "expected 64 lowercase hex digits")
        }
    }
}
