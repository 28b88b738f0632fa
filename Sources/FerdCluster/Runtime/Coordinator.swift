import FerdSystem
import FerdZeroMQ
import Foundation
import FerdLeaderboard
import Logging

/// The coordinator: binds a ROUTER, feeds the `Scheduler` with the workers' messages and a clock tick,
/// stores every change in the `Leaderboard`, sends what the scheduler asks for and moves the checkpoints it
/// asks to fetch, offer or discard (docs/CHECKPOINTS.md). It decides nothing itself; undecodable messages and
/// unknown peers are dropped without stopping it, as its `TrafficGuard` rules: logged sparingly, counted in the
/// leaderboard, and a peer that sends nothing else is ignored for a while (docs/PROTOCOL.md, "Bad traffic").
public final class Coordinator {
    /// Where to listen, how to secure it and the timing.
    public struct Configuration: Sendable {
        /// The endpoint to bind, such as `tcp://*:5555`; see `BindPolicy` for what needs keys.
        public var endpoint: String
        public var scheduler: Scheduler.Configuration
        /// CURVE: the coordinator's key pair and the directory of allowed workers' `*.pub` files.
        public var curve: CurveServerKeys?
        /// Allows binding a non-loopback endpoint without keys.
        public var insecure: Bool
        /// Seconds between scheduler ticks (heartbeat checks).
        public var tickInterval: Double
        /// High-water mark of the socket, in messages per peer.
        public var highWaterMark: Int
        /// Where workers' best checkpoints are stored (the experiment's artifact folder), as
        /// `trial-<id>-attempt-<n>.safetensors`; nil: checkpoints are not requested.
        public var artifactsDirectory: URL?
        /// The most messages handled in one leaderboard transaction (one receive burst).
        public var batchLimit: Int = 1_000
        /// When to log, count and ignore bad traffic.
        public var traffic = TrafficGuard.Configuration()
        /// Seconds between writes of the dropped-message counts to the leaderboard.
        public var droppedCountsInterval: Double = 5
        /// Other endpoints of this process whose dropped-message counts are stored with the coordinator's (such as
        /// the gradient hub): the endpoint's name and a function taking its counts since the last call.
        public var droppedMessageSources: [DroppedMessageSource] = []

        public init(endpoint: String, scheduler: Scheduler.Configuration = Scheduler.Configuration(),
                    curve: CurveServerKeys? = nil, insecure: Bool = false, tickInterval: Double = 0.25,
                    highWaterMark: Int = 1_000, artifactsDirectory: URL? = nil) {
            self.endpoint = endpoint
            self.scheduler = scheduler
            self.curve = curve
            self.insecure = insecure
            self.tickInterval = tickInterval
            self.highWaterMark = highWaterMark
            self.artifactsDirectory = artifactsDirectory
        }
    }

    /// An endpoint whose dropped-message counts the coordinator stores: its name and how to take its counts.
    public struct DroppedMessageSource: Sendable {
        public var endpoint: String
        public var takeCounts: @Sendable () -> [TrafficGuard.Count]

        public init(endpoint: String, takeCounts: @escaping @Sendable () -> [TrafficGuard.Count]) {
            self.endpoint = endpoint
            self.takeCounts = takeCounts
        }
    }

    /// The name under which the coordinator's own dropped messages are stored.
    public static let endpointName = "coordinator"

    private let configuration: Configuration
    private let store: CoordinatorStore
    private let checkpoints: CheckpointInbox?
    private let logger: Logger
    private let clock: @Sendable () -> Double
    private var scheduler: Scheduler
    private var traffic: TrafficGuard
    /// Routing identities of the peers heard from, by the worker id made of them.
    private var identities: [Scheduler.WorkerID: [UInt8]] = [:]
    private var heartbeatSequence: UInt64 = 0
    /// Messages held back while a batch's transaction is open: routing identity, message, worker.
    private var outbox: [([UInt8], Message, Scheduler.WorkerID)]?
    /// Resume checkpoints offered to the workers that start re-assigned trials, by worker.
    private var downloads: [Scheduler.WorkerID: ChunkSender] = [:]

    public init(configuration: Configuration, leaderboard: Leaderboard, logger: Logger,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.store = CoordinatorStore(leaderboard: leaderboard, logger: logger)
        self.logger = logger
        self.clock = clock
        scheduler = Scheduler(configuration: configuration.scheduler)
        traffic = TrafficGuard(configuration: configuration.traffic)
        checkpoints = configuration.artifactsDirectory.map {
            CheckpointInbox(directory: $0, leaderboard: leaderboard, logger: logger,
                            stallTimeout: configuration.scheduler.deadAfter)
        }
    }

    /// The scheduler's current view of trials and workers.
    public var state: Scheduler { scheduler }

    /// Binds, hands the scheduler `restore` (what a resumed experiment had stored) and `trials`, and serves until
    /// `stop` is raised (in any of its ways) or, with `untilFinished`, the scheduler is finished. `bound` receives the endpoint actually bound (with the
    /// port the system chose for `tcp://…:*`). Throws if binding is refused or fails, or if the leaderboard
    /// cannot be written.
    public func run(trials: [Scheduler.TrialSpec], restoring restore: Scheduler.Event? = nil, until stop: StopSignal,
                    untilFinished: Bool = false, bound: (String) -> Void = { _ in }) throws {
        try BindPolicy.check(endpoint: configuration.endpoint, hasKeys: configuration.curve != nil,
                             insecure: configuration.insecure)
        let context = try ZMQContext()
        let zap = try configuration.curve.map { keys throws(ZMQError) in
            try ZAPHandler(context: context, allowListDirectory: keys.allowListDirectory, logger: logger)
        }
        defer { zap?.stop() }
        let socket = try bind(context)
        defer { socket.close() }
        defer { checkpoints?.close() }
        let endpoint = try socket.lastEndpoint()
        logger.info("coordinator listening", metadata: ["endpoint": "\(endpoint)", "trials": "\(trials.count)",
                                                        "curve": "\(configuration.curve != nil)"])
        bound(endpoint)
        if let restore { try apply(scheduler.handle(restore), on: socket) }
        try apply(scheduler.handle(.enqueue(trials, at: clock())), on: socket)
        var nextTick = clock() + configuration.tickInterval
        var nextBeat = clock() + configuration.scheduler.heartbeatInterval
        var nextCounts = clock() + configuration.droppedCountsInterval
        defer { try? storeDroppedCounts() }
        while !stop.isStopRequested, !(untilFinished && scheduler.isFinished && checkpoints?.isEmpty != false) {
            let wait = max(0, min(nextTick, nextBeat) - clock())
            if try socket.poll(timeoutMilliseconds: Int((wait * 1_000).rounded(.up))) {
                try batched(on: socket) {
                    var count = 0
                    while count < configuration.batchLimit, let frames = try socket.receiveMessage() {
                        try dispatch(frames, on: socket)
                        count += 1
                    }
                }
            }
            let now = clock()
            if now >= nextTick {
                nextTick = now + configuration.tickInterval
                try apply(scheduler.handle(.tick(at: now)), on: socket)
                checkpoints?.expire(at: now)
                log(traffic.tick(at: now))
            }
            if now >= nextCounts {
                nextCounts = now + configuration.droppedCountsInterval
                try storeDroppedCounts()
            }
            if now >= nextBeat {
                nextBeat = now + configuration.scheduler.heartbeatInterval
                sendHeartbeats(at: now, on: socket)
            }
        }
        logger.info("coordinator stopping", metadata: ["finished": "\(scheduler.isFinished)"])
    }

    /// Runs `body` with every leaderboard write in one transaction and every send held back until that
    /// transaction has committed, so nothing is sent that depends on a change not yet stored; if a write fails,
    /// none of the batch is stored and none of its messages is sent.
    private func batched(on socket: ZMQSocket, _ body: () throws -> Void) throws {
        outbox = []
        defer { outbox = nil }
        try store.leaderboard.batch(body)
        let held = outbox ?? []
        outbox = nil
        for (identity, message, worker) in held {
            deliver(message, identity: identity, to: worker, on: socket)
        }
    }

    private func bind(_ context: ZMQContext) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context, type: .router)
        try socket.setLinger(milliseconds: 0)
        try socket.setRouterMandatory(true)
        try socket.setRouterHandover(true)
        try socket.setHighWaterMarks(send: configuration.highWaterMark, receive: configuration.highWaterMark)
        try socket.setMaxMessageSize(WireFormat.maxMessageSize)
        if let curve = configuration.curve {
            try socket.setCurveServer(secretKey: curve.keyPair.secretKey)
        }
        try socket.bind(configuration.endpoint)
        return socket
    }

    /// Decodes one ROUTER message (identity, frame) and hands it to the scheduler; what cannot be used goes to
    /// the traffic guard.
    private func dispatch(_ message: [ZMQMessage], on socket: ZMQSocket) throws {
        let frames = message.map(\.bytes)
        guard let identity = frames.first else { return }
        let worker = RoutingIdentity.name(identity)
        let now = clock()
        guard traffic.admit(worker, at: now) else { return }
        func drop(_ kind: String, _ detail: String) {
            log(traffic.dropped(TrafficGuard.Drop(peer: worker, address: message.last?.peerAddress, kind: kind,
                                                  detail: detail), at: now))
        }
        guard frames.count == 2 else {
            return drop("frame-count", "\(frames.count - 1) frames after the routing identity, expected 1")
        }
        let message: Message
        do {
            message = try Message.decode(frames[1])
        } catch {
            return drop("undecodable", "undecodable: \(error)")
        }
        if case let .hello(hello) = message, hello.workerID != worker {
            return drop("identity-mismatch", "HELLO for worker \(hello.workerID) from routing identity \(worker)")
        }
        identities[worker] = identity
        if case .heartbeat = message, scheduler.workers[worker] != nil {
            try store.recordHeartbeat(worker, at: now)
        }
        let actions = scheduler.handle(.received(message, from: worker, at: now))
        if let reason = actions.lazy.compactMap(\.discardReason).first {
            drop("unexpected", "\(message.type.name) discarded: \(reason)")
        } else {
            traffic.accepted(worker)
        }
        try apply(actions, on: socket)
        guard scheduler.workers[worker] != nil else { return }
        switch message {
        case let .chunk(chunk):
            guard let progress = try checkpoints?.receive(chunk, from: worker, at: now) else { return }
            if let credit = progress.credit { send(credit, to: worker, on: socket) }
            if let (trialID, point) = progress.resumePoint {
                try apply(scheduler.handle(.resumePointStored(trialID: trialID, point)), on: socket)
            }
        case let .chunkCredit(credit):
            for piece in downloads[worker]?.grant(credit) ?? [] {
                send(.chunk(piece.read(logger: logger)), to: worker, on: socket)
            }
        default:
            break
        }
    }

    /// Performs the scheduler's actions in order; consecutive state changes are stored in one transaction.
    private func apply(_ actions: [Scheduler.Action], on socket: ZMQSocket) throws {
        var changes: [Scheduler.TrialChange] = []
        for action in actions {
            if case let .trialChanged(change) = action {
                changes.append(change)
                continue
            }
            try store.apply(changes, at: clock())
            changes.removeAll()
            switch action {
            case let .send(message, worker):
                send(message, to: worker, on: socket)
                if case .bye = message { identities[worker] = nil }
            case let .workerGone(worker, reason):
                identities[worker] = nil
                downloads[worker] = nil
                try store.workerGone(worker, reason: reason, at: clock())
            case let .fetchResumeCheckpoint(metric, worker):
                if let credit = checkpoints?.begin(metric, from: worker, at: clock()) { send(credit, to: worker, on: socket) }
            case let .fetchBestCheckpoint(result, worker):
                if let credit = checkpoints?.begin(result, from: worker, at: clock()) { send(credit, to: worker, on: socket) }
            case let .discardResumePoint(trialID):
                try checkpoints?.discardResumePoint(trialID: trialID)
            case let .offerResumeCheckpoint(assignment, worker):
                offerResumeCheckpoint(of: assignment, to: worker)
            case .discarded:
                break
            default:
                try store.perform(action, at: clock())
            }
        }
        try store.apply(changes, at: clock())
    }

    /// Lets the worker fetch the resume checkpoint an assignment continues from.
    private func offerResumeCheckpoint(of assignment: Assignment, to worker: Scheduler.WorkerID) {
        guard let resume = assignment.resume, let checkpoints else { return }
        let key = Scheduler.TrialAttempt(trialID: assignment.trialID, attempt: assignment.attempt)
        downloads[worker, default: ChunkSender()].offer(
            transferID: CheckpointTransfer.resumeDownloadID(for: key),
            file: checkpoints.resumeFile(trialID: assignment.trialID, epoch: resume.epoch), size: resume.checkpoint.size)
    }

    /// Logs the traffic guard's reports; messages the scheduler had no use for (kind `unexpected`, such as a
    /// worker's heartbeat before it re-registers with a restarted coordinator) at info level, the rest as warnings.
    private func log(_ reports: [TrafficGuard.Report]) {
        for report in reports {
            logger.log(level: report.kind == "unexpected" ? .info : .warning, "\(report.message)")
        }
    }

    /// Adds the dropped-message counts since the last call, the coordinator's and its other endpoints', to the
    /// leaderboard, stamped with the time they are stored.
    private func storeDroppedCounts() throws {
        let now = Date(timeIntervalSince1970: clock())
        let counts = [(Self.endpointName, traffic.takeCounts())]
            + configuration.droppedMessageSources.map { ($0.endpoint, $0.takeCounts()) }
        let records = counts.flatMap { endpoint, counts in
            counts.map {
                DroppedMessagesRecord(endpoint: endpoint, peer: $0.peer, kind: $0.kind, address: $0.address,
                                      count: $0.count, lastTime: now)
            }
        }
        guard !records.isEmpty else { return }
        try store.leaderboard.addDroppedMessages(records)
    }

    private func sendHeartbeats(at time: Double, on socket: ZMQSocket) {
        heartbeatSequence += 1
        let beat = Message.heartbeat(Heartbeat(sequence: heartbeatSequence, timestamp: time))
        for worker in scheduler.workers.keys.sorted() {
            send(beat, to: worker, on: socket)
        }
    }

    /// Sends without blocking. A peer that is gone or too slow is logged; the scheduler's heartbeat
    /// check deals with it.
    private func send(_ message: Message, to worker: Scheduler.WorkerID, on socket: ZMQSocket) {
        guard let identity = identities[worker] else {
            logger.warning("no route to worker", metadata: ["worker": "\(worker)", "type": "\(message.type.name)"])
            return
        }
        if outbox != nil {
            outbox?.append((identity, message, worker))
        } else {
            deliver(message, identity: identity, to: worker, on: socket)
        }
    }

    private func deliver(_ message: Message, identity: [UInt8], to worker: Scheduler.WorkerID, on socket: ZMQSocket) {
        do {
            try socket.send([identity, try message.encode()])
        } catch let error as ZMQError where error.peerUnreachable {
            logger.log(level: scheduler.workers[worker] == nil ? .debug : .info, "worker disconnected",
                       metadata: ["worker": "\(worker)", "type": "\(message.type.name)"])
        } catch {
            logger.error("could not send", metadata: ["worker": "\(worker)", "type": "\(message.type.name)",
                                                      "error": "\(error)"])
        }
    }
}

/// The coordinator's CURVE keys and the directory of `*.pub` files of the workers it admits.
public struct CurveServerKeys: Sendable {
    public var keyPair: CurveKeyPair
    public var allowListDirectory: URL

    public init(keyPair: CurveKeyPair, allowListDirectory: URL) {
        self.keyPair = keyPair
        self.allowListDirectory = allowListDirectory
    }
}
