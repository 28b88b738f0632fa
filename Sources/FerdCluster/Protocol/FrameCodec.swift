extension Message {
    /// Encodes the message as one frame: header, then body. Throws if a field breaks the protocol's rules,
    /// so a peer never receives a frame it would reject.
    public func encode() throws(ProtocolError) -> [UInt8] {
        var body = ByteWriter()
        if let wireBody {
            try wireBody.validate()
            try wireBody.write(to: &body)
        }
        let length = WireFormat.headerSize + body.bytes.count
        guard length <= WireFormat.maxMessageSize else {
            throw .oversized(length: length, limit: WireFormat.maxMessageSize)
        }
        var frame = ByteWriter()
        for byte in WireFormat.magic {
            frame.writeUInt8(byte)
        }
        frame.writeUInt16(WireFormat.protocolVersion)
        frame.writeUInt8(type.rawValue)
        frame.writeUInt8(0)
        frame.writeUInt32(UInt32(body.bytes.count))
        return frame.bytes + body.bytes
    }

    /// Decodes one frame. Never traps: every malformed input ends in a `ProtocolError`.
    public static func decode(_ frame: [UInt8]) throws(ProtocolError) -> Message {
        let magicLength = min(frame.count, WireFormat.magic.count)
        guard frame.prefix(magicLength).elementsEqual(WireFormat.magic.prefix(magicLength)) else {
            throw .badMagic(found: Array(frame.prefix(magicLength)))
        }
        guard frame.count >= WireFormat.headerSize else {
            throw .truncated(needed: WireFormat.headerSize, available: frame.count)
        }
        guard frame.count <= WireFormat.maxMessageSize else {
            throw .oversized(length: frame.count, limit: WireFormat.maxMessageSize)
        }
        var reader = ByteReader(frame, offset: WireFormat.magic.count)
        let version = try reader.readUInt16()
        guard version == WireFormat.protocolVersion else {
            throw .versionMismatch(seen: version, expected: WireFormat.protocolVersion)
        }
        let rawType = try reader.readUInt8()
        guard let type = MessageType(rawValue: rawType) else {
            throw .unknownMessageType(rawType)
        }
        let flags = try reader.readUInt8()
        guard flags == 0 else {
            throw .invalidValue(field: "flags", reason: "reserved byte is \(flags), expected 0")
        }
        let declared = WireFormat.headerSize + Int(try reader.readUInt32())
        guard declared <= WireFormat.maxMessageSize else {
            throw .oversized(length: declared, limit: WireFormat.maxMessageSize)
        }
        guard frame.count >= declared else {
            throw .truncated(needed: declared, available: frame.count)
        }
        guard frame.count == declared else {
            throw .trailingBytes(count: frame.count - declared)
        }
        let message = try decodeBody(type, from: &reader)
        guard reader.remaining == 0 else {
            throw .trailingBytes(count: reader.remaining)
        }
        try message.wireBody?.validate()
        return message
    }

    private static func decodeBody(_ type: MessageType,
                                   from reader: inout ByteReader) throws(ProtocolError) -> Message {
        switch type {
        case .hello: .hello(try Hello(from: &reader))
        case .ready: .ready(try Ready(from: &reader))
        case .assign: .assign(try Assignment(from: &reader))
        case .heartbeat: .heartbeat(try Heartbeat(from: &reader))
        case .metric: .metric(try MetricReport(from: &reader))
        case .result: .result(try ResultReport(from: &reader))
        case .fail: .fail(try FailureReport(from: &reader))
        case .cancel: .cancel(try Cancellation(from: &reader))
        case .ack: .ack(try Acknowledgement(from: &reader))
        case .chunk: .chunk(try Chunk(from: &reader))
        case .chunkCredit: .chunkCredit(try ChunkCredit(from: &reader))
        case .bye: .bye
        }
    }

    /// The body of the message, or nil for BYE, which has none.
    private var wireBody: (any WireBody)? {
        switch self {
        case let .hello(body): body
        case let .ready(body): body
        case let .assign(body): body
        case let .heartbeat(body): body
        case let .metric(body): body
        case let .result(body): body
        case let .fail(body): body
        case let .cancel(body): body
        case let .ack(body): body
        case let .chunk(body): body
        case let .chunkCredit(body): body
        case .bye: nil
        }
    }
}
