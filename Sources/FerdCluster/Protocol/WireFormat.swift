/// Constants of the ferd wire format shared by the coordinator and the workers (see docs/PROTOCOL.md).
public enum WireFormat {
    /// The four bytes every frame starts with: ASCII "FERD".
    public static let magic: [UInt8] = [0x46, 0x45, 0x52, 0x44]

    /// The protocol version this build speaks; peers must speak the same one.
    public static let protocolVersion: UInt16 = 4

    /// Bytes before the body: magic (4), version (2), type (1), flags (1), body length (4).
    public static let headerSize = 12

    /// The largest payload one CHUNK may carry (4 MiB).
    public static let maxChunkPayload = 4 * 1024 * 1024

    /// The largest frame, header included; also the value for `ZMQ_MAXMSGSIZE`.
    public static let maxMessageSize = maxChunkPayload + 64 * 1024

    /// The number of expression classes a result reports (recall vector length, confusion matrix side).
    public static let classCount = 7
}

/// The one-byte message type in the frame header.
public enum MessageType: UInt8, CaseIterable, Sendable {
    case hello = 1
    case ready = 2
    case assign = 3
    case heartbeat = 4
    case metric = 5
    case result = 6
    case fail = 7
    case cancel = 8
    case ack = 9
    case chunk = 10
    case chunkCredit = 11
    case bye = 12

    /// The name used in docs/PROTOCOL.md and in logs.
    public var name: String {
        switch self {
        case .hello: "HELLO"
        case .ready: "READY"
        case .assign: "ASSIGN"
        case .heartbeat: "HEARTBEAT"
        case .metric: "METRIC"
        case .result: "RESULT"
        case .fail: "FAIL"
        case .cancel: "CANCEL"
        case .ack: "ACK"
        case .chunk: "CHUNK"
        case .chunkCredit: "CHUNK_CREDIT"
        case .bye: "BYE"
        }
    }
}
