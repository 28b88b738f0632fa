extension Hello: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        workerID = try reader.readString(field: "worker id")
        protocolVersion = try reader.readUInt16()
        ferdVersion = try reader.readString(field: "ferd version")
        cores = try reader.readInt32()
        backend = try reader.readString(field: "backend")
        let engineName = try reader.readString(field: "engine")
        guard let engine = TrainingEngine(rawValue: engineName) else {
            throw .invalidValue(field: "engine", reason: "'\(engineName)' is not an engine this coordinator knows (\(TrainingEngine.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.engine = engine
        slots = try reader.readInt32()
        publicKey = try reader.readOptional(field: "public key") { (reader: inout ByteReader) throws(ProtocolError) in
            try reader.readString(field: "public key")
        }
        running = try reader.readTrialAttempts()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeString(workerID, field: "worker id")
        writer.writeUInt16(protocolVersion)
        try writer.writeString(ferdVersion, field: "ferd version")
        try writer.writeUInt32(cores, field: "cores")
        try writer.writeString(backend, field: "backend")
        try writer.writeString(engine.rawValue, field: "engine")
        try writer.writeUInt32(slots, field: "slots")
        try writer.writeOptional(publicKey) { (writer: inout ByteWriter, key: String) throws(ProtocolError) in
            try writer.writeString(key, field: "public key")
        }
        try writer.writeTrialAttempts(running)
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.notEmpty(workerID, "worker id")
        guard protocolVersion == WireFormat.protocolVersion else {
            throw .versionMismatch(seen: protocolVersion, expected: WireFormat.protocolVersion)
        }
        try FieldCheck.atLeast(1, cores, "cores")
        try FieldCheck.notEmpty(backend, "backend")
        try FieldCheck.atLeast(1, slots, "slots")
        if let publicKey {
            try FieldCheck.count(publicKey.utf8.count, equals: 40, "public key (Z85 characters)")
        }
        for key in running {
            try FieldCheck.atLeast(1, key.attempt, "running attempt")
        }
    }
}

extension Ready: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        credit = try reader.readInt32()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeUInt32(credit, field: "credit")
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(0, credit, "credit")
    }
}

extension Heartbeat: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        sequence = try reader.readUInt64()
        timestamp = try reader.readDouble()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        writer.writeUInt64(sequence)
        writer.writeDouble(timestamp)
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.finite(timestamp, "timestamp")
    }
}
