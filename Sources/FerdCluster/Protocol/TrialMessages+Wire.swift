extension ByteReader {
    mutating func readTrialID() throws(ProtocolError) -> Int {
        try readInt64(field: "trial id")
    }

    /// Reads a confusion matrix (rows u32, columns u32, then the counts u32 row-major), checking its shape
    /// before reading any count.
    mutating func readConfusionMatrix() throws(ProtocolError) -> [[Int]] {
        let rows = try readInt32()
        let columns = try readInt32()
        try FieldCheck.confusionMatrix(rows: rows, columns: [columns])
        var matrix: [[Int]] = []
        matrix.reserveCapacity(rows)
        for _ in 0..<rows {
            var row: [Int] = []
            row.reserveCapacity(columns)
            for _ in 0..<columns {
                row.append(try readInt32())
            }
            matrix.append(row)
        }
        return matrix
    }
}

extension ByteWriter {
    mutating func writeTrialAttempt(trialID: Int, attempt: Int) throws(ProtocolError) {
        try writeUInt64(trialID, field: "trial id")
        try writeUInt32(attempt, field: "attempt")
    }

    /// Writes a confusion matrix as `readConfusionMatrix` reads it; `FieldCheck.confusionMatrix` checks its shape.
    mutating func writeConfusionMatrix(_ matrix: [[Int]]) throws(ProtocolError) {
        try writeUInt32(matrix.count, field: "confusion rows")
        try writeUInt32(matrix.first?.count ?? 0, field: "confusion columns")
        for count in matrix.joined() {
            try writeUInt32(count, field: "confusion count")
        }
    }
}

extension Assignment: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        configJSON = try reader.readString(field: "config")
        resume = try reader.readOptional(field: "resume") { (reader: inout ByteReader) throws(ProtocolError) in
            try reader.readResumePoint()
        }
        gang = try reader.readOptional(field: "gang") { (reader: inout ByteReader) throws(ProtocolError) in
            try reader.readGangPlacement()
        }
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        try writer.writeString(configJSON, field: "config")
        try writer.writeOptional(resume) { (writer: inout ByteWriter, point: ResumePoint) throws(ProtocolError) in
            try writer.writeResumePoint(point)
        }
        try writer.writeOptional(gang) { (writer: inout ByteWriter, placement: GangPlacement) throws(ProtocolError) in
            try writer.writeGangPlacement(placement)
        }
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(1, attempt, "attempt")
        try FieldCheck.notEmpty(configJSON, "config")
        if let resume {
            try FieldCheck.atLeast(1, resume.epoch, "resume epoch")
            try FieldCheck.checkpoint(resume.checkpoint, "resume checkpoint")
        }
        if let gang { try FieldCheck.gang(gang) }
    }
}

extension MetricReport: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        epoch = try reader.readInt32()
        trainLoss = try reader.readDouble()
        uar = try reader.readDouble()
        war = try reader.readDouble()
        learningRate = try reader.readDouble()
        seconds = try reader.readDouble()
        confusion = try reader.readConfusionMatrix()
        let count = try reader.readCount(minimumElementSize: 12)
        stepLosses = []
        stepLosses.reserveCapacity(count)
        for _ in 0..<count {
            stepLosses.append(StepLoss(step: try reader.readInt32(), loss: try reader.readDouble()))
        }
        resumeCheckpoint = try reader.readOptional(field: "resume checkpoint") {
            (reader: inout ByteReader) throws(ProtocolError) in try reader.readCheckpointDescriptor(field: "resume checkpoint")
        }
        gang = try reader.readOptional(field: "gang statistics") { (reader: inout ByteReader) throws(ProtocolError) in
            try reader.readGangStepStatistics()
        }
        relabels = try reader.readOptional(field: "relabels") { (reader: inout ByteReader) throws(ProtocolError) in
            let changed = try reader.readInt32()
            let fromTo = try reader.readConfusionMatrix()
            let count = try reader.readCount(minimumElementSize: 4)
            var byClass: [Int] = []
            for _ in 0..<count { byClass.append(try reader.readInt32()) }
            return RelabelStatistics(changed: changed, fromTo: fromTo, relabelledByClass: byClass)
        }
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        try writer.writeUInt32(epoch, field: "epoch")
        for value in [trainLoss, uar, war, learningRate, seconds] {
            writer.writeDouble(value)
        }
        try writer.writeConfusionMatrix(confusion)
        try writer.writeUInt32(stepLosses.count, field: "step loss count")
        for stepLoss in stepLosses {
            try writer.writeUInt32(stepLoss.step, field: "step")
            writer.writeDouble(stepLoss.loss)
        }
        try writer.writeOptional(resumeCheckpoint) {
            (writer: inout ByteWriter, descriptor: CheckpointDescriptor) throws(ProtocolError) in
            try writer.writeCheckpointDescriptor(descriptor, field: "resume checkpoint")
        }
        try writer.writeOptional(gang) { (writer: inout ByteWriter, statistics: GangStepStatistics) throws(ProtocolError) in
            try writer.writeGangStepStatistics(statistics)
        }
        try writer.writeOptional(relabels) { (writer: inout ByteWriter, relabels: RelabelStatistics) throws(ProtocolError) in
            try writer.writeUInt32(relabels.changed, field: "relabels changed")
            try writer.writeConfusionMatrix(relabels.fromTo)
            try writer.writeUInt32(relabels.relabelledByClass.count, field: "relabelled class count")
            for count in relabels.relabelledByClass { try writer.writeUInt32(count, field: "relabelled count") }
        }
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(1, attempt, "attempt")
        try FieldCheck.finite(trainLoss, "train loss")
        try FieldCheck.fraction(uar, "uar")
        try FieldCheck.fraction(war, "war")
        try FieldCheck.nonNegative(learningRate, "learning rate")
        try FieldCheck.nonNegative(seconds, "seconds")
        try FieldCheck.confusionMatrix(confusion)
        for stepLoss in stepLosses {
            try FieldCheck.finite(stepLoss.loss, "step loss")
        }
        if let resumeCheckpoint { try FieldCheck.checkpoint(resumeCheckpoint, "resume checkpoint") }
        if let gang { try FieldCheck.gangStatistics(gang) }
        if let relabels {
            try FieldCheck.confusionMatrix(relabels.fromTo)
            guard relabels.relabelledByClass.count == WireFormat.classCount else {
                throw .wrongShape(field: "relabelled by class", expected: "\(WireFormat.classCount)",
                                  found: "\(relabels.relabelledByClass.count)")
            }
        }
    }
}

extension ResultReport: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        bestEpoch = try reader.readInt32()
        uar = try reader.readDouble()
        war = try reader.readDouble()
        let classes = WireFormat.classCount
        try FieldCheck.count(try reader.readInt32(), equals: classes, "per-class recall")
        perClassRecall = []
        for _ in 0..<classes {
            perClassRecall.append(try reader.readDouble())
        }
        confusion = try reader.readConfusionMatrix()
        checkpointSHA256 = try reader.readString(field: "checkpoint sha256")
        checkpointSize = try reader.readInt64(field: "checkpoint size")
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        try writer.writeUInt32(bestEpoch, field: "best epoch")
        writer.writeDouble(uar)
        writer.writeDouble(war)
        try writer.writeUInt32(perClassRecall.count, field: "per-class recall count")
        for recall in perClassRecall {
            writer.writeDouble(recall)
        }
        try writer.writeConfusionMatrix(confusion)
        try writer.writeString(checkpointSHA256, field: "checkpoint sha256")
        try writer.writeUInt64(checkpointSize, field: "checkpoint size")
    }

    func validate() throws(ProtocolError) {
        let classes = WireFormat.classCount
        try FieldCheck.atLeast(1, attempt, "attempt")
        try FieldCheck.fraction(uar, "uar")
        try FieldCheck.fraction(war, "war")
        try FieldCheck.count(perClassRecall.count, equals: classes, "per-class recall")
        for recall in perClassRecall {
            try FieldCheck.fraction(recall, "per-class recall")
        }
        try FieldCheck.confusionMatrix(confusion)
        try FieldCheck.sha256Hex(checkpointSHA256, "checkpoint sha256")
    }
}

extension FailureReport: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        error = try reader.readString(field: "error")
        retryable = try reader.readBool(field: "retryable")
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        try writer.writeString(error, field: "error")
        writer.writeBool(retryable)
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(1, attempt, "attempt")
    }
}

extension Cancellation: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        reason = try reader.readString(field: "reason")
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        try writer.writeString(reason, field: "reason")
    }

    func validate() throws(ProtocolError) {
        try FieldCheck.atLeast(1, attempt, "attempt")
    }
}

extension Acknowledgement: WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError) {
        let rawKind = try reader.readUInt8()
        guard let kind = MessageType(rawValue: rawKind) else {
            throw .invalidValue(field: "acknowledged kind", reason: "unknown message type \(rawKind)")
        }
        self.kind = kind
        trialID = try reader.readTrialID()
        attempt = try reader.readInt32()
        sequence = try reader.readUInt64()
    }

    func write(to writer: inout ByteWriter) throws(ProtocolError) {
        writer.writeUInt8(kind.rawValue)
        try writer.writeTrialAttempt(trialID: trialID, attempt: attempt)
        writer.writeUInt64(sequence)
    }

    func validate() throws(ProtocolError) {}
}
