extension Chunk: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        transferID = try reader.readUInt64()
        index = try reader.readInt32()
        total = try reader.readInt32()
        payload = try reader.readBytes()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        writer.writeUInt64(transferID)
        try writer.writeUInt32(index, field: "chunk index")
        try writer.writeUInt32(total, field: "chunk total")
        try writer.writeBytes(payload, field: "chunk payload")
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(1, total, "chunk total")
        guard (0..<total).contains(index) else {
            throw .invalidValue(field: "chunk index", reason: "\(index) is not below the total of \(total)")
        }
        guard payload.count <= WireFormat.maxChunkPayload else {
            throw .oversized(length: payload.count, limit: WireFormat.maxChunkPayload)
        }
    }
}

extension ChunkCredit: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        transferID = try reader.readUInt64()
        credit = try reader.readInt32()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        writer.writeUInt64(transferID)
        try writer.writeUInt32(credit, field: "chunk credit")
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(0, credit, "chunk credit")
    }
}
