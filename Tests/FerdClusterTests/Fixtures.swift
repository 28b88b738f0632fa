import FerdLeaderboard
@testable import FerdCluster

/// One valid instance of every message, with values that exercise every field.
enum Fixtures {
    static let hello = Hello(workerID: "gpu-node-3/0", ferdVersion: "0.4.0-dev", cores: 16, backend: "cuda:0", engine: .torch,
                             slots: 2, publicKey: String(repeating: "k", count: 40))
    static let result = ResultReport(
        trialID: 42, attempt: 2, bestEpoch: 37, uar: 0.5731, war: 0.6912,
        perClassRecall: [0.9, 0.7, 0.6, 0.65, 0.55, 0.1, 0.4],
        confusion: (0..<7).map { row in (0..<7).map { column in row == column ? 100 + row : row * column } },
        checkpointSHA256: String(repeating: "0123456789abcdef", count: 4), checkpointSize: 76_000_000)

    /// A confusion matrix with a distinct count in every cell, so that a transposition or shift shows.
    static let epochConfusion = (0..<7).map { row in (0..<7).map { column in 7 * row + column } }
    static let zeroConfusion = Array(repeating: Array(repeating: 0, count: 7), count: 7)
    static let relabelCounts = (0..<7).map { row in (0..<7).map { column in row == 1 && column == 4 ? 2 : (row == 4 && column == 0 ? 1 : 0) } }

    static let messages: [Message] = [
        .hello(hello),
        .hello(Hello(workerID: "cpu-1", ferdVersion: "0.4.0", cores: 4, backend: "cpu", slots: 1,
                     running: [Scheduler.TrialAttempt(trialID: 5, attempt: 2), Scheduler.TrialAttempt(trialID: 9, attempt: 1)])),
        .ready(Ready(credit: 2)),
        .assign(Assignment(trialID: 42, attempt: 1, configJSON: #"{"lr":0.0001,"fold":3,"name":"é"}"#)),
        .assign(Assignment(trialID: 43, attempt: 3, configJSON: "{}",
                           resume: ResumePoint(epoch: 12, checkpoint: CheckpointDescriptor(size: 1_234,
                                                                                           sha256: String(repeating: "ab", count: 32))),
                           gang: GangPlacement(gangID: 0xABCD, rank: 1, size: 4, hubEndpoint: "tcp://head:5556"))),
        .heartbeat(Heartbeat(sequence: UInt64.max, timestamp: 1_760_000_000.25)),
        .metric(MetricReport(trialID: 42, attempt: 1, epoch: 5, trainLoss: 1.234, uar: 0.41, war: 0.52,
                             learningRate: 1e-4, seconds: 93.5, confusion: epochConfusion,
                             stepLosses: [StepLoss(step: 100, loss: 1.5), StepLoss(step: 200, loss: 1.25)],
                             resumeCheckpoint: CheckpointDescriptor(size: 77, sha256: String(repeating: "0f", count: 32)),
                             gang: GangStepStatistics(members: 3, stepSeconds: 0.8, communicationSeconds: 0.1,
                                                      bytesSentPerStep: 5e7),
                             relabels: RelabelStatistics(changed: 3, fromTo: relabelCounts, relabelledByClass: [0, 2, 0, 0, 1, 0, 0]))),
        .metric(MetricReport(trialID: 7, attempt: 1, epoch: 0, trainLoss: -0.0, uar: 0, war: 1,
                             learningRate: 0, seconds: 0, confusion: zeroConfusion)),
        .result(result),
        .fail(FailureReport(trialID: 42, attempt: 1, error: "out of memory on cuda:0", retryable: true)),
        .fail(FailureReport(trialID: 42, attempt: 3, error: "", retryable: false)),
        .cancel(Cancellation(trialID: 42, attempt: 1, reason: "superseded")),
        .ack(Acknowledgement(kind: .result, trialID: 42, attempt: 2)),
        .ack(Acknowledgement(kind: .heartbeat, sequence: 9)),
        .chunk(Chunk(transferID: 0xDEAD_BEEF, index: 3, total: 4, payload: Array(0...255))),
        .chunk(Chunk(transferID: 1, index: 0, total: 1, payload: [])),
        .chunkCredit(ChunkCredit(transferID: 0xDEAD_BEEF, credit: 8)),
        .bye,
    ]

    /// A frame with an explicit header, for building malformed input.
    static func frame(type: UInt8, body: [UInt8], version: UInt16 = WireFormat.protocolVersion, flags: UInt8 = 0,
                      declaredLength: Int? = nil) -> [UInt8] {
        var writer = ByteWriter()
        for byte in WireFormat.magic {
            writer.writeUInt8(byte)
        }
        writer.writeUInt16(version)
        writer.writeUInt8(type)
        writer.writeUInt8(flags)
        writer.writeUInt32(UInt32(declaredLength ?? body.count))
        return writer.bytes + body
    }
}

/// SplitMix64, so that the mutation and event loops are the same on every run.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<bound.
    mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
