/// ASSIGN: the coordinator hands one attempt of one trial to a worker.
public struct Assignment: Equatable, Sendable {
    public var trialID: Int
    /// 1 for the first attempt, incremented on every retry.
    public var attempt: Int
    /// The full training configuration of the trial, as JSON text.
    public var configJSON: String
    /// The checkpoint to continue from, or nil to start from scratch.
    public var resume: ResumePoint?
    /// The worker's place in a data-parallel gang, or nil for a trial it trains alone.
    public var gang: GangPlacement?

    public init(trialID: Int, attempt: Int, configJSON: String, resume: ResumePoint? = nil, gang: GangPlacement? = nil) {
        self.trialID = trialID
        self.attempt = attempt
        self.configJSON = configJSON
        self.resume = resume
        self.gang = gang
    }
}

/// The training loss at one optimiser step.
public struct StepLoss: Equatable, Sendable {
    public var step: Int
    public var loss: Double

    public init(step: Int, loss: Double) {
        self.step = step
        self.loss = loss
    }
}

/// METRIC: the worker reports one finished epoch of an attempt.
public struct MetricReport: Equatable, Sendable {
    public var trialID: Int
    public var attempt: Int
    public var epoch: Int
    public var trainLoss: Double
    /// Unweighted average recall on the test fold, in [0, 1].
    public var uar: Double
    /// Weighted average recall (accuracy) on the test fold, in [0, 1].
    public var war: Double
    public var learningRate: Double
    /// Wall-clock seconds the epoch took.
    public var seconds: Double
    /// The epoch's test-fold confusion matrix: rows are true classes, columns predictions;
    /// `WireFormat.classCount` × `classCount` counts.
    public var confusion: [[Int]]
    /// Optional per-step losses within the epoch.
    public var stepLosses: [StepLoss]
    /// The resume checkpoint written after this epoch, which the coordinator may fetch.
    public var resumeCheckpoint: CheckpointDescriptor?
    /// Cost of the epoch's steps in a data-parallel gang.
    public var gang: GangStepStatistics?
    /// SCN's relabelling in the epoch (version 4); nil for other methods.
    public var relabels: RelabelStatistics?

    public init(trialID: Int, attempt: Int, epoch: Int, trainLoss: Double, uar: Double, war: Double,
                learningRate: Double, seconds: Double, confusion: [[Int]], stepLosses: [StepLoss] = [],
                resumeCheckpoint: CheckpointDescriptor? = nil, gang: GangStepStatistics? = nil,
                relabels: RelabelStatistics? = nil) {
        self.relabels = relabels
        self.trialID = trialID
        self.attempt = attempt
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
}

/// RESULT: the worker reports the final scores of an attempt, at its best epoch.
public struct ResultReport: Equatable, Sendable {
    public var trialID: Int
    public var attempt: Int
    public var bestEpoch: Int
    public var uar: Double
    public var war: Double
    /// Recall of each class in `Emotion` order; exactly `WireFormat.classCount` values in [0, 1].
    public var perClassRecall: [Double]
    /// Rows are true classes, columns predictions; `classCount` × `classCount` counts.
    public var confusion: [[Int]]
    /// SHA-256 of the best checkpoint, 64 lowercase hex digits.
    public var checkpointSHA256: String
    /// Size of the best checkpoint in bytes.
    public var checkpointSize: Int

    public init(trialID: Int, attempt: Int, bestEpoch: Int, uar: Double, war: Double, perClassRecall: [Double],
                confusion: [[Int]], checkpointSHA256: String, checkpointSize: Int) {
        self.trialID = trialID
        self.attempt = attempt
        self.bestEpoch = bestEpoch
        self.uar = uar
        self.war = war
        self.perClassRecall = perClassRecall
        self.confusion = confusion
        self.checkpointSHA256 = checkpointSHA256
        self.checkpointSize = checkpointSize
    }
}

/// FAIL: the worker gave up on an attempt.
public struct FailureReport: Equatable, Sendable {
    public var trialID: Int
    public var attempt: Int
    public var error: String
    /// True when another attempt may succeed (out of memory, interrupted); false for a broken config.
    public var retryable: Bool

    public init(trialID: Int, attempt: Int, error: String, retryable: Bool) {
        self.trialID = trialID
        self.attempt = attempt
        self.error = error
        self.retryable = retryable
    }
}

/// CANCEL: the coordinator tells a worker to stop an attempt.
public struct Cancellation: Equatable, Sendable {
    public var trialID: Int
    public var attempt: Int
    public var reason: String

    public init(trialID: Int, attempt: Int, reason: String) {
        self.trialID = trialID
        self.attempt = attempt
        self.reason = reason
    }
}

/// ACK: the receiver got a message and the sender may stop resending it.
public struct Acknowledgement: Equatable, Sendable {
    /// The type of the acknowledged message.
    public var kind: MessageType
    /// The trial and attempt it concerned, or 0 when it concerned none.
    public var trialID: Int
    public var attempt: Int
    /// The acknowledged sequence number, or 0 when the message has none.
    public var sequence: UInt64

    public init(kind: MessageType, trialID: Int = 0, attempt: Int = 0, sequence: UInt64 = 0) {
        self.kind = kind
        self.trialID = trialID
        self.attempt = attempt
        self.sequence = sequence
    }
}
