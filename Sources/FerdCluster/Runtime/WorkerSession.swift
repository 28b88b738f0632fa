/// The worker's side of the protocol, free of clocks and I/O like `Scheduler`: feed it events with their
/// times (seconds since 1970), perform the actions it returns, in order.
///
/// It registers with HELLO and READY, starts at most `slots` attempts, keeps RESULT/FAIL until they are
/// acknowledged (resending them every heartbeat interval), buffers METRIC while the coordinator is
/// unreachable, declares the coordinator dead after `missedHeartbeatsBeforeDead` silent intervals and
/// reconnects with a doubling back-off. Every (re)connection registers again with a HELLO that lists the
/// attempts still running, and a BYE from the coordinator ("not registered", after it restarted) does the
/// same: the coordinator re-attaches the attempts it still expects and cancels the others. Once it welcomes
/// the worker, the buffered METRICs, those sent in the last `deadAfter` seconds (they may have reached a
/// coordinator that then died; storing them is idempotent) and the unacknowledged reports are sent again.
public struct WorkerSession: Sendable {
    /// Timing of the worker side.
    public struct Configuration: Sendable, Equatable {
        /// What the worker announces; `slots` is how many attempts run at once.
        public var hello: Hello
        public var heartbeatInterval: Double
        public var missedHeartbeatsBeforeDead: Int
        /// The first reconnection delay, doubled after every failed reconnection.
        public var reconnectDelay: Double
        public var maxReconnectDelay: Double

        public init(hello: Hello, heartbeatInterval: Double = 1, missedHeartbeatsBeforeDead: Int = 5,
                    reconnectDelay: Double = 1, maxReconnectDelay: Double = 32) {
            precondition(heartbeatInterval > 0 && missedHeartbeatsBeforeDead > 0 && reconnectDelay > 0
                         && maxReconnectDelay >= reconnectDelay, "worker timing values must be positive")
            self.hello = hello
            self.heartbeatInterval = heartbeatInterval
            self.missedHeartbeatsBeforeDead = missedHeartbeatsBeforeDead
            self.reconnectDelay = reconnectDelay
            self.maxReconnectDelay = maxReconnectDelay
        }

        /// Seconds of silence after which the coordinator is dead.
        public var deadAfter: Double { heartbeatInterval * Double(missedHeartbeatsBeforeDead) }
    }

    /// Something that happened to the worker.
    public enum Event: Sendable, Equatable {
        /// The worker starts; it connects and registers.
        case start(at: Double)
        case received(Message, at: Double)
        /// A running attempt finished an epoch.
        case metric(MetricReport, at: Double)
        /// A running attempt's thread ended with a RESULT or FAIL, or with nil when it was cancelled.
        case finished(Scheduler.TrialAttempt, Message?, at: Double)
        /// Time passed.
        case tick(at: Double)
        /// The worker is leaving once its running attempts end: it takes no new work (READY with no credit;
        /// an ASSIGN is refused with a retryable FAIL).
        case leave(at: Double)
    }

    /// What the worker must do.
    public enum Action: Sendable, Equatable {
        /// Open a new connection to the coordinator.
        case connect
        /// Close the connection, dropping whatever it still queues.
        case disconnect
        case send(Message)
        case startTrial(Assignment)
        case cancelTrial(Scheduler.TrialAttempt)
    }

    private struct Unacknowledged: Sendable {
        var message: Message
        var key: Scheduler.TrialAttempt
        var lastSent: Double
    }

    public let configuration: Configuration
    /// Attempts whose threads are running, cancelled or not.
    public private(set) var running: Set<Scheduler.TrialAttempt> = []
    private var cancelled: Set<Scheduler.TrialAttempt> = []
    private var unacknowledged: [Unacknowledged] = []
    private var bufferedMetrics: [MetricReport] = []
    /// METRICs sent recently, with when; sent again after a new welcome.
    private var recentMetrics: [(report: MetricReport, sentAt: Double)] = []
    private var connected = false
    private var reconnectAt: Double = 0
    private var reconnectDelay: Double
    /// True from HELLO until the coordinator's ACK of it; BYEs answering older messages are ignored then.
    private var awaitingWelcome = true
    private var helloSentAt: Double = 0
    private var lastHeard: Double = 0
    private var lastBeat: Double = 0
    private var sequence: UInt64 = 0
    /// True after `leave`: no new attempts are started.
    public private(set) var isLeaving = false
    /// True once a coordinator has acknowledged a HELLO (false: nothing at the endpoint has ever answered).
    public private(set) var hasBeenWelcomed = false

    public init(configuration: Configuration) {
        self.configuration = configuration
        reconnectDelay = configuration.reconnectDelay
    }

    /// True while a connection is open.
    public var isConnected: Bool { connected }

    /// RESULT and FAIL messages not yet acknowledged.
    public var pendingReports: [Message] { unacknowledged.map(\.message) }

    private var freeSlots: Int { isLeaving ? 0 : max(0, configuration.hello.slots - running.count) }

    /// Applies one event and returns the actions it calls for.
    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case let .start(time):
            connected = true
            lastHeard = time
            lastBeat = time
            return [.connect] + register(at: time)
        case let .received(message, time):
            lastHeard = time
            reconnectDelay = configuration.reconnectDelay
            return receive(message, at: time)
        case let .metric(report, time):
            let key = Scheduler.TrialAttempt(trialID: report.trialID, attempt: report.attempt)
            guard running.contains(key), !cancelled.contains(key) else { return [] }
            guard connected, !awaitingWelcome else {
                bufferedMetrics.append(report)
                return []
            }
            recentMetrics.append((report, time))
            return [.send(.metric(report))]
        case let .finished(key, message, time):
            return finish(key, with: message, at: time)
        case let .tick(time):
            return connected ? checkLiveness(at: time) : reconnectIfDue(at: time)
        case .leave:
            guard !isLeaving else { return [] }
            isLeaving = true
            return connected ? [.send(.ready(Ready(credit: 0)))] : []
        }
    }

    private mutating func register(at time: Double) -> [Action] {
        awaitingWelcome = true
        helloSentAt = time
        var hello = configuration.hello
        hello.running = running.subtracting(cancelled).sorted { ($0.trialID, $0.attempt) < ($1.trialID, $1.attempt) }
        return [.send(.hello(hello)), .send(.ready(Ready(credit: freeSlots)))]
    }

    /// After the coordinator's welcome: the METRICs it may have missed and the reports it has not acknowledged.
    private mutating func resendAfterWelcome(at time: Double) -> [Action] {
        recentMetrics.removeAll { time - $0.sentAt > configuration.deadAfter }
        let metrics = recentMetrics.map(\.report) + bufferedMetrics
        recentMetrics += bufferedMetrics.map { ($0, time) }
        bufferedMetrics.removeAll()
        var actions = metrics.map { Action.send(.metric($0)) }
        for index in unacknowledged.indices {
            unacknowledged[index].lastSent = time
            actions.append(.send(unacknowledged[index].message))
        }
        return actions
    }

    private mutating func receive(_ message: Message, at time: Double) -> [Action] {
        switch message {
        case .ack(let ack) where ack.kind == .hello:
            guard awaitingWelcome else { return [] }
            awaitingWelcome = false
            hasBeenWelcomed = true
            return resendAfterWelcome(at: time)
        case .ack(let ack) where ack.kind == .result || ack.kind == .fail:
            unacknowledged.removeAll {
                $0.message.type == ack.kind && $0.key == Scheduler.TrialAttempt(trialID: ack.trialID, attempt: ack.attempt)
            }
        case .bye:
            guard !awaitingWelcome || time - helloSentAt > configuration.deadAfter else { return [] }
            return register(at: time)
        case let .assign(assignment):
            let key = Scheduler.TrialAttempt(trialID: assignment.trialID, attempt: assignment.attempt)
            guard !running.contains(key) else { return [] }
            guard freeSlots > 0 else {
                let reason = isLeaving ? "worker \(configuration.hello.workerID) is shutting down"
                    : "no free slot on worker \(configuration.hello.workerID)"
                let refusal = Message.fail(FailureReport(trialID: key.trialID, attempt: key.attempt,
                                                         error: reason,
                                                         retryable: true))
                unacknowledged.append(Unacknowledged(message: refusal, key: key, lastSent: time))
                return [.send(refusal)]
            }
            running.insert(key)
            return [.startTrial(assignment)]
        case let .cancel(cancellation):
            let key = Scheduler.TrialAttempt(trialID: cancellation.trialID, attempt: cancellation.attempt)
            guard running.contains(key), !cancelled.contains(key) else { return [] }
            cancelled.insert(key)
            return [.cancelTrial(key)]
        case .hello, .ready, .heartbeat, .metric, .result, .fail, .ack, .chunk, .chunkCredit:
            break
        }
        return []
    }

    private mutating func finish(_ key: Scheduler.TrialAttempt, with message: Message?, at time: Double) -> [Action] {
        guard running.remove(key) != nil else { return [] }
        var actions: [Action] = []
        if cancelled.remove(key) == nil, let message {
            unacknowledged.append(Unacknowledged(message: message, key: key, lastSent: time))
            if connected { actions.append(.send(message)) }
        }
        if connected { actions.append(.send(.ready(Ready(credit: freeSlots)))) }
        return actions
    }

    private mutating func checkLiveness(at time: Double) -> [Action] {
        if time - lastHeard > configuration.deadAfter {
            connected = false
            reconnectAt = time + reconnectDelay
            reconnectDelay = min(reconnectDelay * 2, configuration.maxReconnectDelay)
            return [.disconnect]
        }
        var actions: [Action] = []
        if time - lastBeat >= configuration.heartbeatInterval {
            actions.append(beat(at: time))
            recentMetrics.removeAll { time - $0.sentAt > configuration.deadAfter }
            for index in unacknowledged.indices where !awaitingWelcome
                && time - unacknowledged[index].lastSent >= configuration.heartbeatInterval {
                unacknowledged[index].lastSent = time
                actions.append(.send(unacknowledged[index].message))
            }
        }
        return actions
    }

    private mutating func reconnectIfDue(at time: Double) -> [Action] {
        guard time >= reconnectAt else { return [] }
        connected = true
        lastHeard = time
        return [.connect] + register(at: time)
    }

    private mutating func beat(at time: Double) -> Action {
        sequence += 1
        lastBeat = time
        return .send(.heartbeat(Heartbeat(sequence: sequence, timestamp: time)))
    }
}
