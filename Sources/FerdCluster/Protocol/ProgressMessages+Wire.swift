extension ByteReader {
    mutating func readCheckpointDescriptor(field: String) throws(ProtocolError) -> CheckpointDescriptor {
        CheckpointDescriptor(size: try readInt64(field: "\(field) size"), sha256: try readString(field: "\(field) sha256"))
    }

    mutating func readResumePoint() throws(ProtocolError) -> ResumePoint {
        ResumePoint(epoch: try readInt32(), checkpoint: try readCheckpointDescriptor(field: "resume checkpoint"))
    }

    mutating func readGangPlacement() throws(ProtocolError) -> GangPlacement {
        GangPlacement(gangID: try readUInt64(), rank: try readInt32(), size: try readInt32(),
                      hubEndpoint: try readString(field: "hub endpoint"))
    }

    mutating func readGangStepStatistics() throws(ProtocolError) -> GangStepStatistics {
        GangStepStatistics(members: try readInt32(), stepSeconds: try readDouble(),
                           communicationSeconds: try readDouble(), bytesSentPerStep: try readDouble())
    }

    /// Reads a list of (trial, attempt) pairs.
    mutating func readTrialAttempts() throws(ProtocolError) -> [TrialAttemptKey] {
        let count = try readCount(minimumElementSize: 12)
        var attempts: [TrialAttemptKey] = []
        attempts.reserveCapacity(count)
        for _ in 0..<count {
            attempts.append(TrialAttemptKey(trialID: try readTrialID(), attempt: try readInt32()))
        }
        return attempts
    }
}

extension ByteWriter {
    mutating func writeCheckpointDescriptor(_ descriptor: CheckpointDescriptor, field: String) throws(ProtocolError) {
        try writeUInt64(descriptor.size, field: "\(field) size")
        try writeString(descriptor.sha256, field: "\(field) sha256")
    }

    mutating func writeResumePoint(_ point: ResumePoint) throws(ProtocolError) {
        try writeUInt32(point.epoch, field: "resume epoch")
        try writeCheckpointDescriptor(point.checkpoint, field: "resume checkpoint")
    }

    mutating func writeGangPlacement(_ placement: GangPlacement) throws(ProtocolError) {
        writeUInt64(placement.gangID)
        try writeUInt32(placement.rank, field: "gang rank")
        try writeUInt32(placement.size, field: "gang size")
        try writeString(placement.hubEndpoint, field: "hub endpoint")
    }

    mutating func writeGangStepStatistics(_ statistics: GangStepStatistics) throws(ProtocolError) {
        try writeUInt32(statistics.members, field: "gang members")
        writeDouble(statistics.stepSeconds)
        writeDouble(statistics.communicationSeconds)
        writeDouble(statistics.bytesSentPerStep)
    }

    mutating func writeTrialAttempts(_ attempts: [TrialAttemptKey]) throws(ProtocolError) {
        try writeUInt32(attempts.count, field: "attempt count")
        for attempt in attempts {
            try writeTrialAttempt(trialID: attempt.trialID, attempt: attempt.attempt)
        }
    }
}

extension FieldCheck {
    static func checkpoint(_ descriptor: CheckpointDescriptor, _ field: String) throws(ProtocolError) {
        try atLeast(1, descriptor.size, "\(field) size")
        try sha256Hex(descriptor.sha256, "\(field) sha256")
    }

    static func gang(_ placement: GangPlacement) throws(ProtocolError) {
        try atLeast(1, placement.size, "gang size")
        guard placement.rank < placement.size else {
            throw .invalidValue(field: "gang rank", reason: "rank \(placement.rank) of a gang of \(placement.size)")
        }
        try notEmpty(placement.hubEndpoint, "hub endpoint")
    }

    static func gangStatistics(_ statistics: GangStepStatistics) throws(ProtocolError) {
        try atLeast(1, statistics.members, "gang members")
        try nonNegative(statistics.stepSeconds, "gang step seconds")
        try nonNegative(statistics.communicationSeconds, "gang communication seconds")
        try nonNegative(statistics.bytesSentPerStep, "gang bytes per step")
    }
}
