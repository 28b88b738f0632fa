/// Why a frame could not be decoded or a message could not be encoded.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The frame ends before a field it declares: `needed` bytes were required, `available` were present.
    case truncated(needed: Int, available: Int)
    /// The frame (or the body length it declares) exceeds `limit` bytes.
    case oversized(length: Int, limit: Int)
    /// The frame does not start with "FERD".
    case badMagic(found: [UInt8])
    /// The peer speaks another protocol version.
    case versionMismatch(seen: UInt16, expected: UInt16)
    /// The header names a message type this version does not know.
    case unknownMessageType(UInt8)
    /// Bytes remain after the last field of the body.
    case trailingBytes(count: Int)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A floating-point field is NaN or infinite.
    case nonFinite(field: String)
    /// A vector or matrix field does not have the required dimensions.
    case wrongShape(field: String, expected: String, found: String)
    /// A field holds a value outside its allowed range or encoding.
    case invalidValue(field: String, reason: String)

    public var description: String {
        switch self {
        case let .truncated(needed, available):
            "truncated frame: needs at least \(needed) bytes but has \(available)"
        case let .oversized(length, limit):
            "oversized frame: \(length) bytes exceeds the limit of \(limit) bytes (send large payloads as CHUNKs)"
        case let .badMagic(found):
            "not a ferd frame: starts with \(found.map { String($0, radix: 16) }) instead of \"FERD\""
        case let .versionMismatch(seen, expected) where seen > expected:
            "protocol version \(seen) received, this ferd speaks version \(expected): "
                + "the peer runs a newer ferd; upgrade ferd here so that the coordinator and every worker match"
        case let .versionMismatch(seen, expected):
            "protocol version \(seen) received, this ferd speaks version \(expected): "
                + "the peer runs an older ferd; upgrade ferd on the peer so that the coordinator and every worker match"
        case let .unknownMessageType(type):
            "unknown message type \(type)"
        case let .trailingBytes(count):
            "\(count) unexpected bytes after the end of the message"
        case let .invalidUTF8(field):
            "field \(field) is not valid UTF-8"
        case let .nonFinite(field):
            "field \(field) is NaN or infinite"
        case let .wrongShape(field, expected, found):
            "field \(field) has shape \(found), expected \(expected)"
        case let .invalidValue(field, reason):
            "field \(field): \(reason)"
        }
    }
}
