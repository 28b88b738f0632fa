/// Appends little-endian integers, IEEE-754 doubles and length-prefixed fields to a byte buffer.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func writeUInt16(_ value: UInt16) {
        for shift in stride(from: 0, to: 16, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    /// Writes `value` as a u32, rejecting values outside 0...UInt32.max.
    mutating func writeUInt32(_ value: Int, field: String) throws(ProtocolError) {
        guard let narrowed = UInt32(exactly: value) else {
            throw .invalidValue(field: field, reason: "\(value) is outside 0...\(UInt32.max)")
        }
        writeUInt32(narrowed)
    }

    /// Writes a non-negative `value` as a u64.
    mutating func writeUInt64(_ value: Int, field: String) throws(ProtocolError) {
        guard let widened = UInt64(exactly: value) else {
            throw .invalidValue(field: field, reason: "\(value) is negative")
        }
        writeUInt64(widened)
    }

    mutating func writeDouble(_ value: Double) {
        writeUInt64(value.bitPattern)
    }

    mutating func writeBool(_ value: Bool) {
        writeUInt8(value ? 1 : 0)
    }

    /// Writes a u32 length followed by the bytes.
    mutating func writeBytes(_ value: [UInt8], field: String) throws(ProtocolError) {
        try writeUInt32(value.count, field: field)
        bytes.append(contentsOf: value)
    }

    /// Writes a u32 length followed by the UTF-8 bytes.
    mutating func writeString(_ value: String, field: String) throws(ProtocolError) {
        try writeBytes(Array(value.utf8), field: field)
    }
}
