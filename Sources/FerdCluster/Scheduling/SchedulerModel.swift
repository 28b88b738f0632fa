import FerdLeaderboard

extension Scheduler {
    /// The name a worker is known by: its ROUTER identity.
    public typealias WorkerID = String

    /// Where a trial is in its life: the leaderboard's `TrialState`, one type from the scheduler to the database.
    public typealias TrialState = FerdLeaderboard.TrialState

    /// When and why early stopping stopped a trial's grid point: the leaderboard's `TrialStop`.
    public typealias TrialStop = FerdLeaderboard.TrialStop

    /// One attempt of one trial: the key that assignments, metrics and results are matched on.
    public typealias TrialAttempt = TrialAttemptKey

    /// Timing and retry policy.
    public struct Configuration: Sendable, Equatable {
        /// Seconds between heartbeats.
        public var heartbeatInterval: Double
        /// A worker silent for more than this many intervals is declared dead.
        public var missedHeartbeatsBeforeDead: Int
        /// Attempts a trial may use in total before it is FAILED.
        public var maxAttempts: Int
        /// Seconds a trial found RUNNING after a coordinator restart waits for its worker to reconnect and
        /// re-attach it before it is LOST (the worker's reconnection back-off reaches 32 s).
        public var reattachGrace: Double
        /// Seconds a gang may hold fewer workers than it asks for before it starts with what it has (when
        /// at least its minimum) or lets them go and waits.
        public var gangFormationTimeout: Double
        /// The coordinator's gradient hub, as workers reach it; nil: gang trials cannot run.
        public var gradientHubEndpoint: String?
        /// Fold-aware early stopping of grid points (trials with a `slot`); nil: every trial runs to its end.
        public var stopping: EarlyStopping.Configuration?
        /// When no new attempt starts any more; nil: no limit.
        public var budget: Budget?
        /// The most trials running at once; nil: as many as the workers take.
        public var maxConcurrent: Int?
        /// Seconds a gang trial waits before its next try after its gang broke, doubling with each failure in a row
        /// (a gang that did not form waits `gangFormationTimeout`, doubling the same way); at most `gangRetryDelayCap`;
        /// an epoch the gang completes resets the count.
        public var gangRetryDelay: Double = 5
        public var gangRetryDelayCap: Double = 300

        public init(heartbeatInterval: Double = 1, missedHeartbeatsBeforeDead: Int = 5, maxAttempts: Int = 3,
                    reattachGrace: Double = 45, gangFormationTimeout: Double = 60, gradientHubEndpoint: String? = nil,
                    stopping: EarlyStopping.Configuration? = nil, budget: Budget? = nil, maxConcurrent: Int? = nil) {
            self.stopping = stopping
            self.budget = budget
            self.maxConcurrent = maxConcurrent
            precondition(heartbeatInterval > 0 && missedHeartbeatsBeforeDead > 0 && maxAttempts > 0
                         && reattachGrace >= 0 && gangFormationTimeout >= 0,
                         "scheduler configuration values must be positive")
            self.heartbeatInterval = heartbeatInterval
            self.missedHeartbeatsBeforeDead = missedHeartbeatsBeforeDead
            self.maxAttempts = maxAttempts
            self.reattachGrace = reattachGrace
            self.gangFormationTimeout = gangFormationTimeout
            self.gradientHubEndpoint = gradientHubEndpoint
        }

        /// Seconds of silence after which a worker is dead.
        public var deadAfter: Double { heartbeatInterval * Double(missedHeartbeatsBeforeDead) }
    }

    /// A trial handed to the scheduler, from a new experiment or from the store on resume.
    public struct TrialSpec: Sendable, Equatable {
        public var id: Int
        /// Sent to the worker verbatim in ASSIGN.
        public var configJSON: String
        /// Attempts already used (from the store when resuming); the next one is `attemptsSoFar + 1`.
        public var attemptsSoFar: Int
        /// The newest resume checkpoint the coordinator holds; the next attempt continues from it.
        public var resume: ResumePoint?
        /// Workers that train the trial together (data-parallel), 1 for a single worker.
        public var workersPerTrial: Int
        /// The fewest workers a gang may start with after waiting `gangFormationTimeout`.
        public var minWorkers: Int
        /// Set for a trial the store says was RUNNING on this worker when the coordinator stopped: the
        /// scheduler waits `reattachGrace` seconds for the worker to come back with it.
        public var runningOn: Reattachment?
        /// The engine the trial must run on; nil: any worker.
        public var engine: TrainingEngine?
        /// Which grid point, fold and seed the trial is, for early stopping; nil: never stopped early.
        public var slot: EarlyStopping.Slot?

        public init(id: Int, configJSON: String, attemptsSoFar: Int = 0, resume: ResumePoint? = nil,
                    workersPerTrial: Int = 1, minWorkers: Int? = nil, runningOn: Reattachment? = nil,
                    engine: TrainingEngine? = nil, slot: EarlyStopping.Slot? = nil) {
            self.slot = slot
            precondition(workersPerTrial >= 1 && (minWorkers ?? 1) >= 1 && (minWorkers ?? 1) <= workersPerTrial,
                         "a trial needs 1 ≤ min_workers ≤ workers_per_trial")
            self.id = id
            self.configJSON = configJSON
            self.attemptsSoFar = attemptsSoFar
            self.resume = resume
            self.workersPerTrial = workersPerTrial
            self.minWorkers = minWorkers ?? workersPerTrial
            self.runningOn = runningOn
            self.engine = engine
        }
    }

    /// A sweep's limit on work: once spent, running attempts finish and no new one starts.
    public enum Budget: Sendable, Equatable {
        /// Epochs reported by all trials together.
        case epochs(Int)
        /// Seconds of training summed over the reported epochs.
        case trialSeconds(Double)
        /// Seconds on the coordinator's clock since `startedAt` (the experiment's creation).
        case wallSeconds(Double, startedAt: Double)
    }

    /// What a sweep has spent so far: epochs and the seconds they took.
    public struct Spending: Sendable, Equatable {
        public var epochs = 0
        public var trialSeconds = 0.0

        public init(epochs: Int = 0, trialSeconds: Double = 0) {
            self.epochs = epochs
            self.trialSeconds = trialSeconds
        }
    }

    /// The worker and attempt of a trial that was RUNNING when the coordinator stopped.
    public struct Reattachment: Sendable, Equatable {
        public var worker: WorkerID
        public var attempt: Int

        public init(worker: WorkerID, attempt: Int) {
            self.worker = worker
            self.attempt = attempt
        }
    }

    /// The scheduler's view of a trial.
    public struct Trial: Sendable, Equatable {
        public var spec: TrialSpec
        public var state: TrialState
        /// The latest attempt started (0 if none).
        public var attempt: Int
        /// The worker running the current attempt (a gang's rank 0), while RUNNING.
        public var worker: WorkerID?
        /// A gang's workers by rank, while RUNNING; empty for a single worker.
        public var members: [WorkerID] = []
        /// While RUNNING after a coordinator restart and not yet re-attached: when it becomes LOST.
        public var reattachDeadline: Double?

        /// Every worker running the current attempt.
        public var workers: [WorkerID] { members.isEmpty ? worker.map { [$0] } ?? [] : members }
    }

    /// Workers held for the gang trial at the head of the queue until it has enough.
    public struct GangFormation: Sendable, Equatable {
        public var trialID: Int
        public var reserved: [WorkerID]
        /// When the first worker was reserved.
        public var since: Double
    }

    /// The scheduler's view of a registered worker.
    public struct Worker: Sendable, Equatable {
        public var id: WorkerID
        /// The engine it trains with.
        public var engine: TrainingEngine = .swift
        public var slots: Int
        /// Free slots the worker last advertised with READY, less the trials assigned since.
        public var credit: Int
        /// When any message last arrived from it.
        public var lastSeen: Double
        /// The attempts assigned to it and not yet finished, oldest first.
        public var running: [TrialAttempt]

        /// How many more trials it may be given now.
        public var available: Int { max(0, min(credit, slots - running.count)) }
    }
}
