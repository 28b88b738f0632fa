extension Scheduler {
    /// Something that happened, with the time it happened (seconds on the coordinator's clock).
    public enum Event: Sendable, Equatable {
        /// Trials to run, at a time; trials the scheduler already knows are ignored.
        case enqueue([TrialSpec], at: Double = 0)
        /// The coordinator stored a resume checkpoint of the trial; later attempts continue from it.
        case resumePointStored(trialID: Int, ResumePoint)
        /// A decoded message from a worker.
        case received(Message, from: WorkerID, at: Double)
        /// Time passed; checks heartbeats.
        case tick(at: Double)
        /// After a coordinator restart, before `enqueue`: the stored curves (each slot's metric per epoch of its
        /// current attempt), early-stopping decisions and what the sweep has spent, restored without deciding.
        case restore(curves: [EarlyStopping.Slot: [Double]], decisions: [EarlyStopping.Decision], spent: Spending)
    }

    /// Why a worker stopped being registered.
    public enum WorkerGoneReason: Sendable, Equatable {
        /// It said BYE.
        case left
        /// Nothing arrived from it for longer than `Configuration.deadAfter`; `lastSeen` is when something last did.
        case timedOut(lastSeen: Double)
        /// It sent HELLO again, so it restarted and lost whatever it was running.
        case reconnected
    }

    /// A trial moved to a new state; the store should record it.
    public struct TrialChange: Sendable, Equatable {
        public var trialID: Int
        public var state: TrialState
        /// Attempts used so far.
        public var attempt: Int
        /// The worker running it (RUNNING only); a gang's workers by rank, comma-separated.
        public var worker: WorkerID?
        /// Why, for failures and losses.
        public var reason: String?
        /// A gang's size and learning-rate factor (RUNNING gangs only).
        public var gang: GangStart?
        /// The early-stopping decision (STOPPED only).
        public var stop: TrialStop?
        /// A gang trial waiting out its back-off: from when it may start again (the coordinator's clock).
        public var retryAfter: Double?

        public init(trialID: Int, state: TrialState, attempt: Int, worker: WorkerID? = nil, reason: String? = nil,
                    gang: GangStart? = nil, stop: TrialStop? = nil, retryAfter: Double? = nil) {
            self.retryAfter = retryAfter
            self.trialID = trialID
            self.state = state
            self.attempt = attempt
            self.worker = worker
            self.reason = reason
            self.gang = gang
            self.stop = stop
        }
    }

    /// How a gang attempt started: with `size` of the `requested` workers; the learning rate is scaled by
    /// `size / requested` (each member keeps its share of the batch, so the global batch shrinks with it).
    public struct GangStart: Sendable, Equatable {
        public var size: Int
        public var requested: Int

        public var learningRateScale: Double { Double(size) / Double(requested) }
    }

    /// What the coordinator must do, in the order given (store before acknowledging).
    public enum Action: Sendable, Equatable {
        case send(Message, to: WorkerID)
        case trialChanged(TrialChange)
        /// Store an epoch's metrics of the current attempt.
        case recordMetric(MetricReport, worker: WorkerID)
        /// Store the result of the current attempt; it is emitted once per trial.
        case recordResult(ResultReport, worker: WorkerID)
        /// Fetch the resume checkpoint a stored METRIC announced: it is newer than the trial's resume point.
        case fetchResumeCheckpoint(MetricReport, from: WorkerID)
        /// Fetch the best checkpoint of a stored RESULT.
        case fetchBestCheckpoint(ResultReport, from: WorkerID)
        /// Forget the resume checkpoint of a DONE trial that has no best checkpoint to wait for.
        case discardResumePoint(trialID: Int)
        /// Let the worker download the resume checkpoint the assignment continues from (before it is sent).
        case offerResumeCheckpoint(Assignment, to: WorkerID)
        case workerJoined(Hello, at: Double)
        case workerGone(WorkerID, reason: WorkerGoneReason)
        /// A message that changed nothing (stale attempt, duplicate, unknown trial); for the log.
        case discarded(Message, from: WorkerID, reason: String)
        /// The budget is spent: no new attempt starts (emitted once).
        case budgetSpent(String)

        /// The reason of a `discarded` action; nil for the others.
        public var discardReason: String? {
            if case let .discarded(_, _, reason) = self { reason } else { nil }
        }
    }
}
