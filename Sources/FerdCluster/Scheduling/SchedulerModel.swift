extension Scheduler {
    /// The name a worker is known by: its ROUTER identity.
    public typealias WorkerID = String

    /// Where a trial is in its life. QUEUED and LOST trials wait for a slot; FAILED and DONE are final.
    public enum TrialState: String, Sendable, CaseIterable {
        case queued = "QUEUED"
        case running = "RUNNING"
        /// The worker running the last attempt died or left; the trial waits for another attempt.
        case lost = "LOST"
        case failed = "FAILED"
        case done = "DONE"

        /// True for FAILED and DONE.
        public var isFinal: Bool { self == .failed || self == .done }
    }

    /// One attempt of one trial: the key that assignments, metrics and results are matched on.
    public struct TrialAttempt: Hashable, Sendable {
        public var trialID: Int
        public var attempt: Int

        public init(trialID: Int, attempt: Int) {
            self.trialID = trialID
            self.attempt = attempt
        }
    }

    /// Timing and retry policy.
    public struct Configuration: Sendable, Equatable {
        /// Seconds between heartbeats.
        public var heartbeatInterval: Double
        /// A worker silent for more than this many intervals is declared dead.
        public var missedHeartbeatsBeforeDead: Int
        /// Attempts a trial may use in total before it is FAILED.
        public var maxAttempts: Int

        public init(heartbeatInterval: Double = 1, missedHeartbeatsBeforeDead: Int = 5, maxAttempts: Int = 3) {
            precondition(heartbeatInterval > 0 && missedHeartbeatsBeforeDead > 0 && maxAttempts > 0,
                         "scheduler configuration values must be positive")
            self.heartbeatInterval = heartbeatInterval
            self.missedHeartbeatsBeforeDead = missedHeartbeatsBeforeDead
            self.maxAttempts = maxAttempts
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
        public var resumeFromEpoch: Int?

        public init(id: Int, configJSON: String, attemptsSoFar: Int = 0, resumeFromEpoch: Int? = nil) {
            self.id = id
            self.configJSON = configJSON
            self.attemptsSoFar = attemptsSoFar
            self.resumeFromEpoch = resumeFromEpoch
        }
    }

    /// The scheduler's view of a trial.
    public struct Trial: Sendable, Equatable {
        public var spec: TrialSpec
        public var state: TrialState
        /// The latest attempt started (0 if none).
        public var attempt: Int
        /// The worker running the current attempt, while RUNNING.
        public var worker: WorkerID?
    }

    /// The scheduler's view of a registered worker.
    public struct Worker: Sendable, Equatable {
        public var id: WorkerID
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
