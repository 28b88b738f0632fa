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

    /// Exactly 64 lowercase hexadecimal digits.
    static func sha256Hex(_ value: String, _ field: String) throws(ProtocolError) {
        let isHex = value.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard value.utf8.count == 64, isHex else {
            throw .invalidValue(field: field, reason: "expected 64 lowercase hex digits")
        }
    }
}
