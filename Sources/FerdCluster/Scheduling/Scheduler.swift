/// The coordinator's scheduling state machine, free of clocks and I/O: feed it events with their
/// timestamps, perform the actions it returns.
///
/// Rules: one assignment per (trial, attempt); metrics and results count only from the worker running the
/// trial's current attempt, and a result is accepted once; a worker silent for longer than
/// `Configuration.deadAfter` is dead and its trials become LOST and wait for another attempt, until
/// `Configuration.maxAttempts` is spent and they become FAILED.
public struct Scheduler: Sendable, Equatable {
    public let configuration: Configuration
    /// Every trial enqueued, by id.
    public internal(set) var trials: [Int: Trial] = [:]
    /// Registered workers, by id.
    public internal(set) var workers: [WorkerID: Worker] = [:]
    /// Trials waiting for a slot, next first.
    public internal(set) var pending: [Int] = []
    /// Worker ids in registration order; ties in assignment go to the earliest.
    var registrationOrder: [WorkerID] = []

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Trials neither DONE nor FAILED, kept by `enqueue` and `setState` so `isFinished` (asked on every turn of
    /// the coordinator's loop) does not scan every trial.
    private var unfinishedCount = 0

    /// True when every trial is DONE or FAILED.
    public var isFinished: Bool {
        unfinishedCount == 0
    }

    /// The trials in `state`, by id.
    public func trials(in state: TrialState) -> [Trial] {
        trials.values.filter { $0.state == state }.sorted { $0.spec.id < $1.spec.id }
    }

    /// Applies one event and returns the actions it calls for.
    public mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case let .enqueue(specs):
            for spec in specs {
                enqueue(spec, into: &actions)
            }
        case let .received(message, worker, time):
            receive(message, from: worker, at: time, into: &actions)
        case let .tick(time):
            for id in registrationOrder {
                if let worker = workers[id], time - worker.lastSeen > configuration.deadAfter {
                    unregister(id, reason: .timedOut(lastSeen: worker.lastSeen), into: &actions)
                }
            }
        }
        dispatch(into: &actions)
        return actions
    }

    private mutating func enqueue(_ spec: TrialSpec, into actions: inout [Action]) {
        guard trials[spec.id] == nil else { return }
        trials[spec.id] = Trial(spec: spec, state: .queued, attempt: spec.attemptsSoFar, worker: nil)
        unfinishedCount += 1
        if spec.attemptsSoFar >= configuration.maxAttempts {
            setState(spec.id, .failed, reason: "retry budget of \(configuration.maxAttempts) attempts spent",
                     into: &actions)
        } else {
            setState(spec.id, .queued, into: &actions)
            pending.append(spec.id)
        }
    }

    /// Gives waiting trials to the workers with the most free slots.
    private mutating func dispatch(into actions: inout [Action]) {
        while !pending.isEmpty, let id = workerWithMostFreeSlots(), var trial = trials[pending.removeFirst()] {
            trial.attempt += 1
            trial.state = .running
            trial.worker = id
            trials[trial.spec.id] = trial
            workers[id]?.credit -= 1
            workers[id]?.running.append(TrialAttempt(trialID: trial.spec.id, attempt: trial.attempt))
            actions.append(.trialChanged(TrialChange(trialID: trial.spec.id, state: .running,
                                                     attempt: trial.attempt, worker: id)))
            let assignment = Assignment(trialID: trial.spec.id, attempt: trial.attempt,
                                        configJSON: trial.spec.configJSON,
                                        resumeFromEpoch: trial.spec.resumeFromEpoch)
            actions.append(.send(.assign(assignment), to: id))
        }
    }

    private func workerWithMostFreeSlots() -> WorkerID? {
        var best: (id: WorkerID, available: Int)?
        for id in registrationOrder {
            let available = workers[id]?.available ?? 0
            if available > (best?.available ?? 0) {
                best = (id, available)
            }
        }
        return best?.id
    }

    /// Forgets a worker; the trials it was running are lost.
    mutating func unregister(_ id: WorkerID, reason: WorkerGoneReason, into actions: inout [Action]) {
        guard let worker = workers.removeValue(forKey: id) else { return }
        registrationOrder.removeAll { $0 == id }
        actions.append(.workerGone(id, reason: reason))
        for key in worker.running {
            retryOrFail(key.trialID, lostState: .lost, reason: "worker \(id) \(describe(reason))", into: &actions)
        }
    }

    /// Ends the current attempt of a RUNNING trial: back in line as `lostState` while the retry budget
    /// lasts (at the front, so that retries finish early), FAILED afterwards.
    mutating func retryOrFail(_ trialID: Int, lostState: TrialState, reason: String, into actions: inout [Action]) {
        guard let trial = trials[trialID], trial.state == .running else { return }
        if trial.attempt < configuration.maxAttempts {
            setState(trialID, lostState, reason: reason, into: &actions)
            pending.insert(trialID, at: 0)
        } else {
            let budget = "retry budget of \(configuration.maxAttempts) attempts spent"
            setState(trialID, .failed, reason: "\(reason); \(budget)", into: &actions)
        }
    }

    mutating func setState(_ trialID: Int, _ state: TrialState, reason: String? = nil, into actions: inout [Action]) {
        guard var trial = trials[trialID] else { return }
        if trial.state.isFinal != state.isFinal { unfinishedCount += state.isFinal ? -1 : 1 }
        trial.state = state
        trial.worker = nil
        trials[trialID] = trial
        actions.append(.trialChanged(TrialChange(trialID: trialID, state: state, attempt: trial.attempt,
                                                 reason: reason)))
    }

    private func describe(_ reason: WorkerGoneReason) -> String {
        switch reason {
        case .left: "left"
        case let .timedOut(lastSeen):
            "missed \(configuration.missedHeartbeatsBeforeDead) heartbeats (last seen at \(lastSeen))"
        case .reconnected: "reconnected"
        }
    }
}
