import Foundation

/// Where a trial is in its life, in the scheduler and in the database. QUEUED and LOST trials wait for a slot;
/// FAILED and DONE are final.
public enum TrialState: String, Sendable, CaseIterable {
    case queued = "QUEUED"
    case running = "RUNNING"
    /// The worker running the last attempt died or left; the trial waits for another attempt.
    case lost = "LOST"
    case failed = "FAILED"
    case done = "DONE"
    /// Early stopping ended its grid point (docs/SWEEPS.md): not started, or cancelled while it ran.
    case stopped = "STOPPED"

    /// True for FAILED, DONE and STOPPED.
    public var isFinal: Bool { self == .failed || self == .done || self == .stopped }
}

/// One experiment: a configuration file's content, identified by its hash so that re-running the same
/// file resumes it.
public struct Experiment: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var contentHash: String
    public var config: String
    public var created: Date

    public init(id: Int, name: String, contentHash: String, config: String, created: Date) {
        self.id = id
        self.name = name
        self.contentHash = contentHash
        self.config = config
        self.created = created
    }
}

/// One point of an experiment's hyper-parameter grid.
public struct GridPoint: Sendable, Equatable {
    public var id: Int
    public var experimentID: Int
    /// The grid point's parameters as JSON text.
    public var paramsJSON: String

    public init(id: Int, experimentID: Int, paramsJSON: String) {
        self.id = id
        self.experimentID = experimentID
        self.paramsJSON = paramsJSON
    }
}

/// A trial to create: one fold of one grid point with one seed.
public struct TrialPlan: Sendable, Equatable {
    public var paramsJSON: String
    public var fold: Int
    public var seed: UInt64

    public init(paramsJSON: String, fold: Int, seed: UInt64) {
        self.paramsJSON = paramsJSON
        self.fold = fold
        self.seed = seed
    }
}

/// A stored trial.
public struct TrialRecord: Sendable, Equatable {
    public var id: Int
    public var experimentID: Int
    public var gridPointID: Int
    public var fold: Int
    public var seed: UInt64
    public var state: TrialState
    /// Attempts started so far.
    public var attempts: Int
    /// The worker running it, while RUNNING (the gang's workers, comma-separated, for a gang).
    public var worker: String?
    public var updated: Date
    /// The latest resume checkpoint stored on the coordinator, if any.
    public var resume: StoredResumePoint?
    /// Members of the gang that runs (or last ran) the trial; nil for a single worker.
    public var gangSize: Int?
    /// The factor applied to the learning rate because the gang is smaller than asked for; nil: none.
    public var learningRateScale: Double?
    /// For a STOPPED trial: when and why early stopping stopped its grid point.
    public var stop: TrialStop?
    /// A trial waiting out a back-off (a gang that failed to form or broke): until when and why.
    public var retry: TrialRetry?

    public init(id: Int, experimentID: Int, gridPointID: Int, fold: Int, seed: UInt64, state: TrialState,
                attempts: Int, worker: String?, updated: Date, resume: StoredResumePoint? = nil,
                gangSize: Int? = nil, learningRateScale: Double? = nil, stop: TrialStop? = nil, retry: TrialRetry? = nil) {
        self.retry = retry
        self.stop = stop
        self.id = id
        self.experimentID = experimentID
        self.gridPointID = gridPointID
        self.fold = fold
        self.seed = seed
        self.state = state
        self.attempts = attempts
        self.worker = worker
        self.updated = updated
        self.resume = resume
        self.gangSize = gangSize
        self.learningRateScale = learningRateScale
    }
}

/// A resume checkpoint the coordinator holds for a trial: the epochs it contains and the file.
public struct StoredResumePoint: Sendable, Equatable {
    public var epoch: Int
    public var size: Int
    public var sha256: String
    public var path: String

    public init(epoch: Int, size: Int, sha256: String, path: String) {
        self.epoch = epoch
        self.size = size
        self.sha256 = sha256
        self.path = path
    }
}

/// The gang a trial's attempt started with: its size and the factor applied to the learning rate.
public struct TrialGang: Sendable, Equatable {
    public var size: Int
    public var learningRateScale: Double

    public init(size: Int, learningRateScale: Double) {
        self.size = size
        self.learningRateScale = learningRateScale
    }
}

/// What SCN's relabelling did in one epoch (`epoch_metrics.relabels`, JSON): the labels replaced, the replacements
/// by label before (rows) and after (columns), and the training clips whose label differs from the dataset's after
/// the epoch, by dataset class.
public struct RelabelCounts: Sendable, Equatable, Codable {
    public var changed: Int
    public var fromTo: [[Int]]
    public var relabelledByClass: [Int]

    enum CodingKeys: String, CodingKey {
        case changed
        case fromTo = "from_to"
        case relabelledByClass = "relabelled_by_class"
    }

    public init(changed: Int, fromTo: [[Int]], relabelledByClass: [Int]) {
        self.changed = changed
        self.fromTo = fromTo
        self.relabelledByClass = relabelledByClass
    }
}

/// The cost of one epoch of a data-parallel gang, per step.
public struct GangEpochCost: Sendable, Equatable {
    public var members: Int
    public var stepSeconds: Double
    public var communicationSeconds: Double
    public var bytesPerStep: Double

    public init(members: Int, stepSeconds: Double, communicationSeconds: Double, bytesPerStep: Double) {
        self.members = members
        self.stepSeconds = stepSeconds
        self.communicationSeconds = communicationSeconds
        self.bytesPerStep = bytesPerStep
    }
}

/// A new state for a trial, applied with others in one transaction.
public struct TrialStateChange: Sendable, Equatable {
    public var trialID: Int
    public var state: TrialState
    public var attempts: Int
    public var worker: String?
    /// For a RUNNING gang: its size and the learning-rate factor (stored; other changes leave them).
    public var gang: TrialGang?
    /// For STOPPED: the epoch whose metrics stopped the grid point and why.
    public var stop: TrialStop?
    /// A trial waiting out a back-off: until when and why (cleared when it runs or ends).
    public var retry: TrialRetry?

    public init(trialID: Int, state: TrialState, attempts: Int, worker: String? = nil,
                gang: TrialGang? = nil, stop: TrialStop? = nil, retry: TrialRetry? = nil) {
        self.retry = retry
        self.trialID = trialID
        self.state = state
        self.attempts = attempts
        self.worker = worker
        self.gang = gang
        self.stop = stop
    }

}

/// Until when a trial waits before its next try, and why.
public struct TrialRetry: Sendable, Equatable {
    public var after: Date
    public var reason: String

    public init(after: Date, reason: String) {
        self.after = after
        self.reason = reason
    }
}

/// Why and when early stopping stopped a trial's grid point.
public struct TrialStop: Sendable, Equatable {
    /// The epoch whose metrics decided.
    public var epoch: Int
    public var reason: String

    public init(epoch: Int, reason: String) {
        self.epoch = epoch
        self.reason = reason
    }
}

/// The metrics of one epoch of one attempt.
public struct EpochMetricRecord: Sendable, Equatable {
    public var trialID: Int
    public var attempt: Int
    public var epoch: Int
    public var trainLoss: Double
    public var uar: Double
    public var war: Double
    public var learningRate: Double
    public var seconds: Double
    /// The test-fold confusion matrix at this epoch, when the worker sent one.
    public var confusion: [[Int]]?
    /// What the epoch cost a data-parallel gang.
    public var gang: GangEpochCost?
    /// SCN's relabelling in the epoch; nil for other methods and before its relabel epoch.
    public var relabels: RelabelCounts?

    public init(trialID: Int, attempt: Int, epoch: Int, trainLoss: Double, uar: Double, war: Double,
                learningRate: Double, seconds: Double, confusion: [[Int]]? = nil, gang: GangEpochCost? = nil,
                relabels: RelabelCounts? = nil) {
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
        self.gang = gang
    }
}

/// The final result of a trial, from the attempt that completed it.
public struct ResultRecord: Sendable, Equatable {
    public var trialID: Int
    public var attempt: Int
    public var bestEpoch: Int
    public var uar: Double
    public var war: Double
    public var perClassRecall: [Double]
    public var confusion: [[Int]]
    /// Where the coordinator keeps the best checkpoint, once transferred.
    public var checkpointPath: String?
    /// SHA-256 of the checkpoint, hex.
    public var digest: String

    public init(trialID: Int, attempt: Int, bestEpoch: Int, uar: Double, war: Double, perClassRecall: [Double],
                confusion: [[Int]], checkpointPath: String?, digest: String) {
        self.trialID = trialID
        self.attempt = attempt
        self.bestEpoch = bestEpoch
        self.uar = uar
        self.war = war
        self.perClassRecall = perClassRecall
        self.confusion = confusion
        self.checkpointPath = checkpointPath
        self.digest = digest
    }
}

/// A worker as last seen by the coordinator.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var cores: Int
    public var backend: String
    public var slots: Int
    public var lastHeartbeat: Date
    /// Messages from this worker the coordinator dropped (malformed or while ignoring it), in all.
    public var droppedMessages: Int

    public init(id: String, host: String, cores: Int, backend: String, slots: Int, lastHeartbeat: Date,
                droppedMessages: Int = 0) {
        self.id = id
        self.host = host
        self.cores = cores
        self.backend = backend
        self.slots = slots
        self.lastHeartbeat = lastHeartbeat
        self.droppedMessages = droppedMessages
    }
}

/// Messages an endpoint dropped from one peer, of one kind (docs/PROTOCOL.md, "Bad traffic").
public struct DroppedMessagesRecord: Sendable, Equatable {
    /// Which endpoint dropped them: `coordinator` or `gradient hub`.
    public var endpoint: String
    /// The peer's routing identity as ferd prints it (a worker's id for a worker), or "(other peers)".
    public var peer: String
    /// A short stable name of what was wrong, such as `undecodable` or `frame-count`.
    public var kind: String
    /// The peer's network address, when known.
    public var address: String?
    public var count: Int
    public var lastTime: Date

    public init(endpoint: String, peer: String, kind: String, address: String?, count: Int, lastTime: Date) {
        self.endpoint = endpoint
        self.peer = peer
        self.kind = kind
        self.address = address
        self.count = count
        self.lastTime = lastTime
    }
}

/// A line of the coordinator's event log.
public struct EventRecord: Sendable, Equatable {
    public var time: Date
    public var kind: String
    public var text: String
}

/// Everything `ferd report` needs about one experiment.
public struct ExperimentReport: Sendable, Equatable {
    public var experiment: Experiment
    public var gridPoints: [GridPoint]
    public var trials: [TrialRecord]
    public var results: [ResultRecord]
    /// Ordered by trial, attempt, epoch.
    public var epochMetrics: [EpochMetricRecord]
    /// What the coordinator said when the experiment's budget was spent; nil while it lasts.
    public var budgetNotice: String?

    public init(experiment: Experiment, gridPoints: [GridPoint], trials: [TrialRecord], results: [ResultRecord],
                epochMetrics: [EpochMetricRecord], budgetNotice: String? = nil) {
        self.experiment = experiment
        self.gridPoints = gridPoints
        self.trials = trials
        self.results = results
        self.epochMetrics = epochMetrics
        self.budgetNotice = budgetNotice
    }
}
