/// One attempt of one trial (`Scheduler.TrialAttempt`): the key that assignments, metrics and results are
/// matched on.
public struct TrialAttemptKey: Hashable, Sendable {
    public var trialID: Int
    public var attempt: Int

    public init(trialID: Int, attempt: Int) {
        self.trialID = trialID
        self.attempt = attempt
    }
}

/// A file one side holds and the other may fetch in CHUNKs: its size and SHA-256.
public struct CheckpointDescriptor: Equatable, Sendable {
    /// Size in bytes, at least 1.
    public var size: Int
    /// SHA-256 of the file, 64 lowercase hex digits.
    public var sha256: String

    public init(size: Int, sha256: String) {
        self.size = size
        self.sha256 = sha256
    }
}

/// Where a re-assigned trial continues: the last epoch whose resume checkpoint reached the coordinator.
public struct ResumePoint: Equatable, Sendable {
    /// Epochs already trained (1-based count); the attempt continues with epoch `epoch + 1`.
    public var epoch: Int
    /// The resume checkpoint the worker fetches from the coordinator before it starts.
    public var checkpoint: CheckpointDescriptor

    public init(epoch: Int, checkpoint: CheckpointDescriptor) {
        self.epoch = epoch
        self.checkpoint = checkpoint
    }
}

/// A worker's place in the gang of a data-parallel trial (docs/DATA-PARALLEL.md).
public struct GangPlacement: Equatable, Sendable {
    /// Unique per (trial, attempt): the members of one gang share it.
    public var gangID: UInt64
    /// 0..<size; rank 0 reports the trial's metrics, result and checkpoints.
    public var rank: Int
    public var size: Int
    /// The coordinator's gradient hub (rendezvous, and the reducer of the star topology).
    public var hubEndpoint: String

    public init(gangID: UInt64, rank: Int, size: Int, hubEndpoint: String) {
        self.gangID = gangID
        self.rank = rank
        self.size = size
        self.hubEndpoint = hubEndpoint
    }
}

/// What a gang's data-parallel training cost in one epoch, averaged over its steps.
public struct GangStepStatistics: Equatable, Sendable {
    /// Members in the gang.
    public var members: Int
    /// Wall-clock seconds per training step.
    public var stepSeconds: Double
    /// Seconds per step the gradient exchange was busy (partly hidden behind the backward pass).
    public var communicationSeconds: Double
    /// Bytes this member sent per step.
    public var bytesSentPerStep: Double

    public init(members: Int, stepSeconds: Double, communicationSeconds: Double, bytesSentPerStep: Double) {
        self.members = members
        self.stepSeconds = stepSeconds
        self.communicationSeconds = communicationSeconds
        self.bytesSentPerStep = bytesSentPerStep
    }
}

/// What SCN's relabelling did in one epoch, as METRIC carries it (version 4): the labels replaced, the
/// replacements by label before (rows) and after (columns), and the training clips whose label differs from
/// the dataset's after the epoch, by dataset class. The coordinator stores it as the leaderboard's `RelabelCounts`.
public struct RelabelStatistics: Equatable, Sendable {
    public var changed: Int
    public var fromTo: [[Int]]
    public var relabelledByClass: [Int]

    public init(changed: Int, fromTo: [[Int]], relabelledByClass: [Int]) {
        self.changed = changed
        self.fromTo = fromTo
        self.relabelledByClass = relabelledByClass
    }
}
