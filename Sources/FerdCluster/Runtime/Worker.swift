import FerdSystem
import FerdZeroMQ
import Foundation
import Logging

/// A worker: connects a DEALER to the coordinator and runs the attempts it is assigned through a
/// `TrialRunner`, one background thread per slot. The protocol decisions are `WorkerSession`'s; this class
/// only moves messages between it, the socket and the trial threads.
public final class Worker {
    /// Where and how to connect, and the worker's timing.
    public struct Configuration: Sendable {
        /// The coordinator's endpoint, such as `tcp://10.0.0.2:5555`.
        public var endpoint: String
        public var session: WorkerSession.Configuration
        /// CURVE keys; nil for an unencrypted link.
        public var curve: CurveClientKeys?
        /// The longest wait for a message before the loop looks at its trial threads and the clock.
        public var pollInterval: Double
        /// High-water mark of the socket, in messages.
        public var highWaterMark: Int
        /// Seconds to wait for trial threads to notice cancellation when the worker stops.
        public var shutdownGrace: Double
        /// Bytes per CHUNK when sending a checkpoint (at most `WireFormat.maxChunkPayload`).
        public var chunkSize: Int
        /// Where resume checkpoints fetched from the coordinator are written; one folder per worker (two
        /// workers on one machine fetch the same file names).
        public var downloadDirectory: URL

        public init(endpoint: String, session: WorkerSession.Configuration,
                    curve: CurveClientKeys? = nil, pollInterval: Double = 0.01,
                    highWaterMark: Int = 1_000, shutdownGrace: Double = 5,
                    chunkSize: Int = CheckpointTransfer.defaultChunkSize,
                    downloadDirectory: URL = FileManager.default.temporaryDirectory
                        .appendingPathComponent("ferd-resume-\(ProcessInfo.processInfo.processIdentifier)")) {
            self.endpoint = endpoint
            self.session = session
            self.curve = curve
            self.pollInterval = pollInterval
            self.highWaterMark = highWaterMark
            self.shutdownGrace = shutdownGrace
            self.chunkSize = chunkSize
            self.downloadDirectory = downloadDirectory
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let clock: @Sendable () -> Double
    private let threads: TrialThreads
    private var session: WorkerSession
    private var checkpoints: ChunkSender
    /// When a checkpoint upload last moved (credit arrived and chunks went out).
    private var lastUploadProgress = -Double.infinity
    private let downloads: ResumeDownloads
    private var socket: ZMQSocket?
    /// Bad messages from the coordinator are logged sparingly; the coordinator is never ignored.
    private var traffic = TrafficGuard(configuration: .neverIgnoring)

    public init(configuration: Configuration, runner: any TrialRunner, logger: Logger,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        threads = TrialThreads(runner: runner, workerID: configuration.session.hello.workerID)
        session = WorkerSession(configuration: configuration.session)
        checkpoints = ChunkSender(chunkSize: configuration.chunkSize)
        downloads = ResumeDownloads(directory: configuration.downloadDirectory,
                                    stallTimeout: 2 * configuration.session.deadAfter, logger: logger)
    }

    /// Runs until `stop` is raised.
    ///
    /// - `finishEpochs()`: takes no new work, lets each running attempt finish its current epoch (its METRIC is
    ///   sent), reports the attempt as interrupted (a retryable FAIL; a finished attempt sends its RESULT), waits
    ///   for the coordinator to acknowledge the reports and for the checkpoint uploads it asked for to end (the
    ///   last epoch's resume checkpoint, a result's best checkpoint; at most 5 heartbeat periods without
    ///   progress), says BYE and returns.
    /// - `stop()` (also after `finishEpochs()`): stops the running attempts between steps, reports them as
    ///   interrupted if the coordinator can still be reached (waiting at most one heartbeat period for the
    ///   acknowledgements), says BYE and returns.
    /// - `abandon()`: leaves like a crashed process, without reports or BYE.
    public func run(until stop: StopSignal) throws {
        let context = try ZMQContext()
        defer {
            socket?.close()
            socket = nil
        }
        try perform(session.handle(.start(at: clock())), context: context)
        var leaving = false
        var waitingSince: Double?
        while !stop.isStopped {
            if stop.isDraining, !leaving {
                leaving = true
                logger.notice("leaving after the current epoch of each running trial (signal again to stop at once)",
                              metadata: ["running": "\(session.running.count)"])
                threads.finishEpochs()
                try perform(session.handle(.leave(at: clock())), context: context)
            }
            try step(context: context)
            if leaving, session.running.isEmpty {
                if session.pendingReports.isEmpty, checkpoints.transfersUnderway == 0 { break }
                let since = max(waitingSince ?? clock(), lastUploadProgress)
                waitingSince = since
                if clock() >= since + configuration.session.deadAfter {
                    logger.warning("leaving without the coordinator's acknowledgement of the last reports or with checkpoint uploads unfinished",
                                   metadata: ["reports": "\(session.pendingReports.count)",
                                              "uploads": "\(checkpoints.transfersUnderway)"])
                    break
                }
            }
        }
        if stop.isAbandoned {
            session.running.forEach(threads.cancel)
        } else if !session.running.isEmpty {
            try interruptRunningAttempts(context: context)
        }
        if !stop.isAbandoned {
            try? socket?.setLinger(milliseconds: 500)
            send(.bye)
            logger.info("worker leaving", metadata: ["worker": "\(configuration.session.hello.workerID)"])
        }
        if !threads.waitForAll(timeout: configuration.shutdownGrace) {
            logger.warning("trial threads still running after cancellation",
                           metadata: ["grace": "\(configuration.shutdownGrace)"])
        }
    }

    /// One turn of the loop: messages in, the trial threads' reports out, the session's clock.
    private func step(context: ZMQContext) throws {
        let socket = socket
        if let socket, try socket.poll(timeoutMilliseconds: Int(configuration.pollInterval * 1_000)) {
            try receiveAll(from: socket, context: context)
        } else if socket == nil {
            Thread.sleep(forTimeInterval: configuration.pollInterval)
        }
        for report in threads.drain() {
            switch report {
            case let .metric(metric, resumeFile):
                if let resumeFile, let descriptor = metric.resumeCheckpoint {
                    let key = Scheduler.TrialAttempt(trialID: metric.trialID, attempt: metric.attempt)
                    checkpoints.offer(transferID: CheckpointTransfer.resumeUploadID(for: key, epoch: metric.epoch),
                                      file: resumeFile, size: descriptor.size)
                }
                try perform(session.handle(.metric(metric, at: clock())), context: context)
            case let .finished(key, message, checkpoint):
                if case let .result(result)? = message, let checkpoint {
                    checkpoints.offer(key, file: checkpoint, size: result.checkpointSize)
                }
                try perform(session.handle(.finished(key, message, at: clock())), context: context)
            }
        }
        for ready in downloads.expire(at: clock()) {
            try start(ready, context: context)
        }
        log(traffic.tick(at: clock()))
        try perform(session.handle(.tick(at: clock())), context: context)
    }

    /// The immediate stop: the running attempts stop between steps (within `shutdownGrace`) and are reported as
    /// interrupted; the loop keeps turning for at most one heartbeat period after they end so the reports can
    /// be sent and acknowledged.
    private func interruptRunningAttempts(context: ZMQContext) throws {
        logger.notice("stopping the running trials now", metadata: ["running": "\(session.running.count)"])
        threads.interruptAll()
        try perform(session.handle(.leave(at: clock())), context: context)
        let graceEnd = clock() + configuration.shutdownGrace
        while !session.running.isEmpty, clock() < graceEnd {
            try step(context: context)
        }
        let acknowledgementEnd = clock() + configuration.session.heartbeatInterval
        while socket != nil, !session.pendingReports.isEmpty, clock() < acknowledgementEnd {
            try step(context: context)
        }
    }

    private func receiveAll(from socket: ZMQSocket, context: ZMQContext) throws {
        while let frames = try socket.receive() {
            guard frames.count == 1 else {
                dropped("frame-count", "\(frames.count) frames, expected 1")
                continue
            }
            do {
                let message = try Message.decode(frames[0])
                switch message {
                case let .chunkCredit(credit):
                    let pieces = checkpoints.grant(credit)
                    if !pieces.isEmpty { lastUploadProgress = clock() }
                    pieces.forEach(sendChunk)
                case let .chunk(chunk):
                    let (credit, ready) = downloads.receive(chunk, at: clock())
                    if let credit { send(credit) }
                    if let ready { try start(ready, context: context) }
                default:
                    break
                }
                try perform(session.handle(.received(message, at: clock())), context: context)
            } catch let error as ProtocolError {
                dropped("undecodable", "undecodable: \(error)")
            }
            guard self.socket === socket else { return }
        }
    }

    private func dropped(_ kind: String, _ detail: String) {
        let drop = TrafficGuard.Drop(peer: "the coordinator", kind: kind, detail: detail)
        log(traffic.dropped(drop, at: clock()))
    }

    private func log(_ reports: [TrafficGuard.Report]) {
        for report in reports {
            logger.warning("\(report.message)")
        }
    }

    /// Starts an attempt whose resume checkpoint is here (or not needed), or reports the one that cannot start.
    private func start(_ ready: ResumeDownloads.Ready, context: ZMQContext) throws {
        guard let failure = ready.failure else {
            threads.start(ready.assignment, resumeFile: ready.file)
            return
        }
        let key = Scheduler.TrialAttempt(trialID: ready.assignment.trialID, attempt: ready.assignment.attempt)
        let report = TrialOutcome.failed(reason: failure, retryable: true).message(for: key)
        try perform(session.handle(.finished(key, report, at: clock())), context: context)
    }

    private func perform(_ actions: [WorkerSession.Action], context: ZMQContext) throws {
        for action in actions {
            switch action {
            case .connect:
                socket = try connect(context)
                logger.info("connecting to coordinator", metadata: ["endpoint": "\(configuration.endpoint)"])
            case .disconnect:
                socket?.close()
                socket = nil
                if session.hasBeenWelcomed {
                    logger.warning("coordinator silent; reconnecting",
                                   metadata: ["endpoint": "\(configuration.endpoint)",
                                              "silence": "\(configuration.session.deadAfter)s"])
                } else {
                    logger.warning("""
                        no answer from \(configuration.endpoint) yet; retrying. Check that it is the coordinator's \
                        --bind endpoint (not its gradient hub) and, with --keys, that this worker's public key is in \
                        the coordinator's keys/workers/ and coordinator.pub is the coordinator's
                        """)
                }
            case let .send(message):
                send(message)
            case let .startTrial(assignment):
                logger.info("starting trial", metadata: ["trial": "\(assignment.trialID)",
                                                         "attempt": "\(assignment.attempt)",
                                                         "resume epoch": "\(assignment.resume?.epoch ?? 0)",
                                                         "gang": "\(assignment.gang.map { "\($0.rank)/\($0.size)" } ?? "-")"])
                switch downloads.begin(assignment, at: clock()) {
                case let .fetching(credit): send(credit)
                case let .startNow(ready): try start(ready, context: context)
                }
            case let .cancelTrial(key):
                logger.info("cancelling trial", metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)"])
                if downloads.cancel(key) {
                    try perform(session.handle(.finished(key, nil, at: clock())), context: context)
                } else {
                    threads.cancel(key)
                }
            }
        }
    }

    private func connect(_ context: ZMQContext) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setRoutingID(Array(configuration.session.hello.workerID.utf8))
        try socket.setHighWaterMarks(send: configuration.highWaterMark, receive: configuration.highWaterMark)
        try socket.setMaxMessageSize(WireFormat.maxMessageSize)
        if let curve = configuration.curve {
            try socket.setCurveClient(serverKey: curve.serverKey, keyPair: curve.keyPair)
        }
        try socket.connect(configuration.endpoint)
        return socket
    }

    private func sendChunk(_ piece: ChunkSender.Piece) {
        send(.chunk(piece.read(logger: logger)))
    }

    /// Sends without blocking; a message that cannot be queued is logged and left to the session's resends.
    private func send(_ message: Message) {
        guard let socket else { return }
        do {
            try socket.send([try message.encode()])
        } catch {
            logger.warning("could not send", metadata: ["type": "\(message.type.name)", "error": "\(error)"])
        }
    }
}

/// A worker's CURVE keys: the coordinator's public key and the worker's own pair.
public struct CurveClientKeys: Sendable {
    public var serverKey: String
    public var keyPair: CurveKeyPair

    public init(serverKey: String, keyPair: CurveKeyPair) {
        self.serverKey = serverKey
        self.keyPair = keyPair
    }
}
