/// Reads the fields `ByteWriter` writes, checking every length against the bytes that remain.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int) throws(ProtocolError) -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw .truncated(needed: offset + count, available: bytes.count)
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    private mutating func readLittleEndian(byteCount: Int) throws(ProtocolError) -> UInt64 {
        var value: UInt64 = 0
        for (position, byte) in try take(byteCount).enumerated() {
            value |= UInt64(byte) << (8 * position)
        }
        return value
    }

    mutating func readUInt8() throws(ProtocolError) -> UInt8 {
        UInt8(try readLittleEndian(byteCount: 1))
    }

    mutating func readUInt16() throws(ProtocolError) -> UInt16 {
        UInt16(try readLittleEndian(byteCount: 2))
    }

    mutating func readUInt32() throws(ProtocolError) -> UInt32 {
        UInt32(try readLittleEndian(byteCount: 4))
    }

    mutating func readUInt64() throws(ProtocolError) -> UInt64 {
        try readLittleEndian(byteCount: 8)
    }

    /// Reads a u32 as an `Int`.
    mutating func readInt32() throws(ProtocolError) -> Int {
        Int(try readUInt32())
    }

    /// Reads a u64 that must fit in `Int`.
    mutating func readInt64(field: String) throws(ProtocolError) -> Int {
        let value = try readUInt64()
        guard let narrowed = Int(exactly: value) else {
            throw .invalidValue(field: field, reason: "\(value) exceeds \(Int.max)")
        }
        return narrowed
    }

    mutating func readDouble() throws(ProtocolError) -> Double {
        Double(bitPattern: try readUInt64())
    }

    /// Reads a byte that must be 0 (false) or 1 (true).
    mutating func readBool(field: String) throws(ProtocolError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, reason: "boolean byte is \(other), expected 0 or 1")
        }
    }

    /// Reads an element count and checks that `count × minimumElementSize` bytes remain.
    mutating func readCount(minimumElementSize: Int) throws(ProtocolError) -> Int {
        let count = try readInt32()
        let (needed, overflow) = count.multipliedReportingOverflow(by: minimumElementSize)
        guard !overflow, needed <= remaining else {
            throw .truncated(needed: overflow ? Int.max : offset + needed, available: bytes.count)
        }
        return count
    }

    mutating func readBytes() throws(ProtocolError) -> [UInt8] {
        Array(try take(try readInt32()))
    }

    mutating func readString(field: String) throws(ProtocolError) -> String {
        let raw = try take(try readInt32())
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw .invalidUTF8(field: field)
        }
        return string
    }
}
