import Foundation

/// One finished epoch, as a trial runner reports it; the worker adds the trial and attempt.
public struct MetricEvent: Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var uar: Double
    public var war: Double
    public var learningRate: Double
    public var seconds: Double
    /// The epoch's test-fold confusion matrix, `WireFormat.classCount` × `classCount` (rows true, columns predicted).
    public var confusion: [[Int]]
    public var stepLosses: [StepLoss]
    /// The resume checkpoint written after this epoch, offered to the coordinator.
    public var resumeCheckpoint: CheckpointFile?
    /// What the epoch's steps cost a data-parallel gang.
    public var gang: GangStepStatistics?
    /// SCN's relabelling in the epoch.
    public var relabels: RelabelStatistics?

    public init(epoch: Int, trainLoss: Double, uar: Double, war: Double, learningRate: Double, seconds: Double,
                confusion: [[Int]], stepLosses: [StepLoss] = [], resumeCheckpoint: CheckpointFile? = nil,
                gang: GangStepStatistics? = nil, relabels: RelabelStatistics? = nil) {
        self.relabels = relabels
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.uar = uar
        self.war = war
        self.learningRate = learningRate
        self.seconds = seconds
        self.confusion = confusion
        self.stepLosses = stepLosses
        self.resumeCheckpoint = resumeCheckpoint
        self.gang = gang
    }

    func report(for key: Scheduler.TrialAttempt) -> MetricReport {
        MetricReport(trialID: key.trialID, attempt: key.attempt, epoch: epoch, trainLoss: trainLoss, uar: uar,
                     war: war, learningRate: learningRate, seconds: seconds, confusion: confusion,
                     stepLosses: stepLosses, resumeCheckpoint: resumeCheckpoint?.descriptor, gang: gang, relabels: relabels)
    }
}

/// A checkpoint file on the worker and its size and digest.
public struct CheckpointFile: Equatable, Sendable {
    public var file: URL
    public var descriptor: CheckpointDescriptor

    public init(file: URL, descriptor: CheckpointDescriptor) {
        self.file = file
        self.descriptor = descriptor
    }
}

/// How an attempt ended.
public enum TrialOutcome: Equatable, Sendable {
    /// The attempt finished; the scores are those of its best epoch.
    case completed(TrialScores)
    /// The attempt gave up; `retryable` says whether another attempt may succeed.
    case failed(reason: String, retryable: Bool)
}

/// The final scores of a completed attempt (a RESULT without its trial and attempt).
public struct TrialScores: Equatable, Sendable {
    public var bestEpoch: Int
    public var uar: Double
    public var war: Double
    public var perClassRecall: [Double]
    public var confusion: [[Int]]
    public var checkpointSHA256: String
    public var checkpointSize: Int
    /// The checkpoint file on the worker (`checkpointSize` bytes with digest `checkpointSHA256`), sent to a
    /// coordinator that asks for it; nil: there is none to send.
    public var checkpointFile: URL?

    public init(bestEpoch: Int, uar: Double, war: Double, perClassRecall: [Double], confusion: [[Int]],
                checkpointSHA256: String, checkpointSize: Int, checkpointFile: URL? = nil) {
        self.bestEpoch = bestEpoch
        self.uar = uar
        self.war = war
        self.perClassRecall = perClassRecall
        self.confusion = confusion
        self.checkpointSHA256 = checkpointSHA256
        self.checkpointSize = checkpointSize
        self.checkpointFile = checkpointFile
    }
}

/// Runs one attempt of a trial on a worker's background thread: report every finished epoch, check
/// `cancelled` between steps and return soon after it turns true. A thrown error fails the attempt
/// (retryable, so the retry budget decides).
public protocol TrialRunner: Sendable {
    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome
    /// Runs an attempt that continues from `resumeFile` (the resume checkpoint of `trial.resume`, fetched
    /// from the coordinator), or from scratch when it is nil. Runners that cannot resume start from scratch.
    ///
    /// `aborted` turns true only when the attempt must end at once (the coordinator's CANCEL, an immediate
    /// shutdown), never for a stop at an epoch boundary; runners hand it to waits that block outside their
    /// own loop, such as a gang member's gradient exchange.
    func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
             cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome
}

extension TrialRunner {
    public func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
                    cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        try run(trial: trial, report: report, cancelled: cancelled)
    }
}

extension TrialOutcome {
    /// The checkpoint file of a completed attempt.
    var checkpointFile: URL? {
        if case let .completed(scores) = self { scores.checkpointFile } else { nil }
    }

    /// The RESULT or FAIL message that reports this outcome of `key`.
    func message(for key: Scheduler.TrialAttempt) -> Message {
        switch self {
        case let .completed(scores):
            .result(ResultReport(trialID: key.trialID, attempt: key.attempt, bestEpoch: scores.bestEpoch,
                                 uar: scores.uar, war: scores.war, perClassRecall: scores.perClassRecall,
                                 confusion: scores.confusion, checkpointSHA256: scores.checkpointSHA256,
                                 checkpointSize: scores.checkpointSize))
        case let .failed(reason, retryable):
            .fail(FailureReport(trialID: key.trialID, attempt: key.attempt, error: reason, retryable: retryable))
        }
    }
}
