/// The trainers a worker can run trials with (`ferd worker --engine`).
public enum TrainingEngine: String, Sendable, CaseIterable, Codable {
    /// ferd's Swift trainer, on the worker's CPUs.
    case swift
    /// The PyTorch engine (Engines/torch), one process per trial, on GPUs or CPUs; also runs an experiment's own
    /// training command.
    case torch
}

/// HELLO: the first message a worker sends, describing itself.
public struct Hello: Equatable, Sendable {
    /// A stable name for the worker (host name plus an index, for instance).
    public var workerID: String
    /// The protocol version the worker speaks.
    public var protocolVersion: UInt16
    /// The worker's ferd release, for logs and the workers table.
    public var ferdVersion: String
    /// CPU cores on the worker.
    public var cores: Int
    /// The compute backend in words, such as "cpu" or "cuda:0,1 (NVIDIA H200)".
    public var backend: String
    /// The engine the worker trains with; the scheduler hands it only trials that engine can run.
    public var engine: TrainingEngine
    /// How many trials the worker runs at once.
    public var slots: Int
    /// The worker's CURVE public key (Z85), when the connection is authenticated.
    public var publicKey: String?
    /// Attempts the worker is still running from an earlier registration (after the coordinator restarted):
    /// the coordinator re-attaches those it still considers running and cancels the others.
    public var running: [TrialAttemptKey]

    public init(workerID: String, protocolVersion: UInt16 = WireFormat.protocolVersion, ferdVersion: String,
                cores: Int, backend: String, engine: TrainingEngine = .swift, slots: Int, publicKey: String? = nil,
                running: [TrialAttemptKey] = []) {
        self.workerID = workerID
        self.protocolVersion = protocolVersion
        self.ferdVersion = ferdVersion
        self.cores = cores
        self.backend = backend
        self.engine = engine
        self.slots = slots
        self.publicKey = publicKey
        self.running = running
    }
}

/// READY: the worker has `credit` free slots and asks for that many trials.
public struct Ready: Equatable, Sendable {
    /// Free slots on the worker right now.
    public var credit: Int

    public init(credit: Int) {
        self.credit = credit
    }
}

/// HEARTBEAT: liveness beacon, sent by both sides once per second.
public struct Heartbeat: Equatable, Sendable {
    /// Increases by one with every heartbeat a peer sends.
    public var sequence: UInt64
    /// The sender's clock, seconds since 1970.
    public var timestamp: Double

    public init(sequence: UInt64, timestamp: Double) {
        self.sequence = sequence
        self.timestamp = timestamp
    }
}
