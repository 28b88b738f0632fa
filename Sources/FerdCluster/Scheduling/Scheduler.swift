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
    /// The gang trial at the head of the queue and the workers held for it.
    public internal(set) var formation: GangFormation?
    /// Gang trials that let their partial gang go, and until when they let other trials pass.
    var gangBackoff: [Int: Double] = [:]
    /// The early-stopping rule and what it has seen, when the experiment has one.
    public internal(set) var stopping: EarlyStopping?
    /// Epochs and training seconds reported so far (all attempts), for the budget.
    public internal(set) var spent = Spending()
    /// Set once the budget is spent; from then on no attempt starts.
    public internal(set) var budgetSpent = false
    /// The time of the event being handled.
    var now = 0.0
    /// Gang trials' failures to form or to finish in a row, for their back-off.
    var gangFailures: [Int: Int] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        stopping = configuration.stopping.map(EarlyStopping.init(configuration:))
    }

    /// Trials not yet DONE, FAILED or STOPPED, kept by `enqueue` and `setState` so `isFinished` (asked on every turn of
    /// the coordinator's loop) does not scan every trial.
    private var unfinishedCount = 0

    /// True when every trial is DONE, FAILED or STOPPED, or the budget is spent and nothing runs any more.
    public var isFinished: Bool {
        unfinishedCount == 0 || (budgetSpent && !trials.values.contains { $0.state == .running })
    }

    /// The trials in `state`, by id.
    public func trials(in state: TrialState) -> [Trial] {
        trials.values.filter { $0.state == state }.sorted { $0.spec.id < $1.spec.id }
    }

    /// Applies one event and returns the actions it calls for.
    public mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case let .enqueue(specs, time):
            now = time
            for spec in specs {
                enqueue(spec, at: time, into: &actions)
            }
            dispatch(at: time, into: &actions)
        case let .resumePointStored(trialID, point):
            if let current = trials[trialID]?.spec.resume?.epoch, current >= point.epoch { break }
            trials[trialID]?.spec.resume = point
        case let .received(message, worker, time):
            now = time
            receive(message, from: worker, at: time, into: &actions)
            dispatch(at: time, into: &actions)
        case let .tick(time):
            now = time
            for id in registrationOrder {
                if let worker = workers[id], time - worker.lastSeen > configuration.deadAfter {
                    unregister(id, reason: .timedOut(lastSeen: worker.lastSeen), into: &actions)
                }
            }
            for trial in trials.values.sorted(by: { $0.spec.id < $1.spec.id }) {
                if let deadline = trial.reattachDeadline, time >= deadline {
                    let worker = trial.worker ?? "?"
                    retryOrFail(trial.spec.id, lostState: .lost,
                                reason: "worker \(worker) did not come back after the coordinator restarted", into: &actions)
                }
            }
            dispatch(at: time, into: &actions)
        case let .restore(curves, decisions, spent):
            for (slot, curve) in curves {
                stopping?.seed(slot, curve: curve)
            }
            for decision in decisions {
                stopping?.restore(decision)
            }
            self.spent = spent
        }
        return actions
    }

    /// Marks the budget spent the first time it is, and says so.
    private mutating func checkBudget(at time: Double, into actions: inout [Action]) {
        guard !budgetSpent, let budget = configuration.budget else { return }
        let text: String? = switch budget {
        case let .epochs(limit) where spent.epochs >= limit:
            "budget of \(limit) epochs spent (\(spent.epochs) epochs reported)"
        case let .trialSeconds(limit) where spent.trialSeconds >= limit:
            String(format: "budget of %.2f trial hours spent (%.2f h of training reported)", limit / 3600, spent.trialSeconds / 3600)
        case let .wallSeconds(limit, startedAt) where time - startedAt >= limit:
            String(format: "budget of %.2f wall-clock hours spent", limit / 3600)
        default:
            nil
        }
        guard let text else { return }
        budgetSpent = true
        actions.append(.budgetSpent(text + "; running trials finish, no new trial starts"))
    }

    /// Orders the waiting trials: first those whose grid point has started (retries and the other folds of points
    /// under way) unless early stopping ranks the point below the median, then the rest, each group in the order
    /// it had, so that partial results are complete grid points early (docs/SWEEPS.md).
    private mutating func prioritisePending() {
        guard configuration.stopping != nil, pending.count > 1 else { return }
        var started: [Int: Bool] = [:]
        for trial in trials.values where trial.state != .queued || trial.attempt > 0 {
            if let point = trial.spec.slot?.point { started[point] = true }
        }
        func rank(_ id: Int) -> Int {
            guard let point = trials[id]?.spec.slot?.point, started[point] == true else { return 1 }
            guard let rule = stopping, let epoch = rule.latestEpoch(of: point),
                  let score = rule.score(of: point, at: epoch) else { return 0 }
            return score.value >= 0.5 ? 0 : 1
        }
        let ranks = Dictionary(uniqueKeysWithValues: pending.map { ($0, rank($0)) })
        let order = Dictionary(uniqueKeysWithValues: pending.enumerated().map { ($1, $0) })
        pending.sort { (ranks[$0]!, order[$0]!) < (ranks[$1]!, order[$1]!) }
    }

    /// Gives an accepted epoch metric to the early-stopping rule; a grid point it stops has its waiting trials
    /// STOPPED and its running ones cancelled on every worker (every member of a gang) and STOPPED.
    mutating func judge(_ metric: MetricReport, into actions: inout [Action]) {
        spent.epochs += 1
        spent.trialSeconds += metric.seconds
        guard stopping != nil, let slot = trials[metric.trialID]?.spec.slot else { return }
        let value = stopping!.configuration.metric == .war ? metric.war : metric.uar
        for decision in stopping!.record(slot, epoch: metric.epoch, metric: value) {
            let stop = TrialStop(epoch: decision.epoch, reason: decision.reason)
            let members = trials.values.filter { $0.spec.slot?.point == decision.point && !$0.state.isFinal }
            for trial in members.sorted(by: { $0.spec.id < $1.spec.id }) {
                if trial.state == .running {
                    cancel(TrialAttempt(trialID: trial.spec.id, attempt: trial.attempt),
                           reason: "early stopping: \(decision.reason)", into: &actions)
                }
                pending.removeAll { $0 == trial.spec.id }
                if formation?.trialID == trial.spec.id { formation = nil }
                setState(trial.spec.id, .stopped, reason: decision.reason, stop: stop, into: &actions)
            }
        }
    }

    private mutating func enqueue(_ spec: TrialSpec, at time: Double, into actions: inout [Action]) {
        guard trials[spec.id] == nil else { return }
        trials[spec.id] = Trial(spec: spec, state: .queued, attempt: spec.attemptsSoFar, worker: nil)
        unfinishedCount += 1
        if let running = spec.runningOn, running.attempt <= configuration.maxAttempts {
            var trial = trials[spec.id]!
            trial.state = .running
            trial.attempt = running.attempt
            trial.worker = running.worker
            trial.reattachDeadline = time + configuration.reattachGrace
            trials[spec.id] = trial
            return
        }
        if spec.attemptsSoFar >= configuration.maxAttempts {
            setState(spec.id, .failed, reason: "retry budget of \(configuration.maxAttempts) attempts spent",
                     into: &actions)
        } else {
            setState(spec.id, .queued, into: &actions)
            pending.append(spec.id)
        }
    }

    /// Gives waiting trials, in order, to the workers with the most free slots. A gang trial at the head of
    /// the queue holds the free workers until it has as many as it asks for; after `gangFormationTimeout` it
    /// starts with those it holds if they are at least its minimum, and otherwise lets them go and lets
    /// other trials pass for as long again.
    private mutating func dispatch(at time: Double, into actions: inout [Action]) {
        checkBudget(at: time, into: &actions)
        guard !budgetSpent else { return }
        prioritisePending()
        var index = 0
        while index < pending.count {
            let id = pending[index]
            guard let trial = trials[id] else {
                pending.remove(at: index)
                continue
            }
            if let limit = configuration.maxConcurrent, trials.values.filter({ $0.state == .running }).count >= limit {
                return
            }
            if trial.spec.workersPerTrial == 1 {
                let excluded = formation?.reserved ?? []
                guard let worker = workerWithMostFreeSlots(excluding: excluded, engine: trial.spec.engine) else {
                    // Free workers of another engine may still take the trials behind this one.
                    guard workerWithMostFreeSlots(excluding: excluded) != nil else { return }
                    index += 1
                    continue
                }
                pending.remove(at: index)
                start(id, on: [worker], into: &actions)
                continue
            }
            guard configuration.gradientHubEndpoint != nil else {
                pending.remove(at: index)
                setState(id, .failed, reason: "workers_per_trial \(trial.spec.workersPerTrial) needs a gradient hub, "
                         + "and this coordinator runs none", into: &actions)
                continue
            }
            if let until = gangBackoff[id], time < until {
                index += 1
                continue
            }
            gangBackoff[id] = nil
            if formation == nil || formation?.trialID != id {
                guard formation == nil else {
                    index += 1
                    continue
                }
                formation = GangFormation(trialID: id, reserved: [], since: time)
            }
            var reserved = formation!.reserved.filter { (workers[$0]?.available ?? 0) > 0 && accepts($0, trial.spec.engine) }
            while reserved.count < trial.spec.workersPerTrial,
                  let worker = workerWithMostFreeSlots(excluding: reserved, engine: trial.spec.engine) {
                reserved.append(worker)
            }
            formation!.reserved = reserved
            if reserved.isEmpty { formation!.since = time }
            let timedOut = time - formation!.since >= configuration.gangFormationTimeout
            if reserved.count == trial.spec.workersPerTrial || (timedOut && reserved.count >= trial.spec.minWorkers) {
                formation = nil
                pending.remove(at: index)
                start(id, on: reserved, into: &actions)
                continue
            }
            if timedOut {
                formation = nil
                let reason = "its gang of \(trial.spec.workersPerTrial) did not form within "
                    + "\(Int(configuration.gangFormationTimeout)) s (\(reserved.count) free worker(s) of the engine, at least "
                    + "\(trial.spec.minWorkers) needed)"
                let wait = backOff(id, base: configuration.gangFormationTimeout)
                actions.append(.trialChanged(TrialChange(trialID: id, state: trial.state, attempt: trial.attempt,
                                                         reason: reason + wait.text, retryAfter: wait.until)))
                index += 1
                continue
            }
            return
        }
    }

    /// Starts the next attempt of a trial on `members` (rank order).
    private mutating func start(_ id: Int, on members: [WorkerID], into actions: inout [Action]) {
        guard var trial = trials[id] else { return }
        trial.attempt += 1
        trial.state = .running
        trial.worker = members[0]
        trial.reattachDeadline = nil
        let isGang = trial.spec.workersPerTrial > 1
        trial.members = isGang ? members : []
        trials[id] = trial
        let key = TrialAttempt(trialID: id, attempt: trial.attempt)
        let gang = isGang ? GangStart(size: members.count, requested: trial.spec.workersPerTrial) : nil
        actions.append(.trialChanged(TrialChange(trialID: id, state: .running, attempt: trial.attempt,
                                                 worker: members.joined(separator: ","), gang: gang)))
        for (rank, worker) in members.enumerated() {
            workers[worker]?.credit -= 1
            workers[worker]?.running.append(key)
            let placement = isGang ? GangPlacement(gangID: CheckpointTransfer.transferID(for: key), rank: rank,
                                                   size: members.count,
                                                   hubEndpoint: configuration.gradientHubEndpoint ?? "") : nil
            let assignment = Assignment(trialID: id, attempt: trial.attempt, configJSON: trial.spec.configJSON,
                                        resume: trial.spec.resume, gang: placement)
            if assignment.resume != nil { actions.append(.offerResumeCheckpoint(assignment, to: worker)) }
            actions.append(.send(.assign(assignment), to: worker))
        }
    }

    /// The registered worker with the most free slots that can run trials of `engine` (nil: any engine).
    private func workerWithMostFreeSlots(excluding excluded: [WorkerID] = [], engine: TrainingEngine? = nil) -> WorkerID? {
        var best: (id: WorkerID, available: Int)?
        for id in registrationOrder where !excluded.contains(id) && accepts(id, engine) {
            let available = workers[id]?.available ?? 0
            if available > (best?.available ?? 0) {
                best = (id, available)
            }
        }
        return best?.id
    }

    /// Whether worker `id` trains with `engine` (always, when the trial names none).
    private func accepts(_ id: WorkerID, _ engine: TrainingEngine?) -> Bool {
        engine == nil || workers[id]?.engine == engine
    }

    /// Forgets a worker; the trials it was running are lost.
    mutating func unregister(_ id: WorkerID, reason: WorkerGoneReason, into actions: inout [Action]) {
        unregister(id, reason: reason, keeping: [], into: &actions)
    }

    /// Forgets a worker; the trials it was running are lost, except the attempts in `kept`, which stay on
    /// it (the worker registered again and still runs them).
    mutating func unregister(_ id: WorkerID, reason: WorkerGoneReason, keeping kept: [TrialAttempt],
                             into actions: inout [Action]) {
        guard let worker = workers.removeValue(forKey: id) else { return }
        registrationOrder.removeAll { $0 == id }
        formation?.reserved.removeAll { $0 == id }
        actions.append(.workerGone(id, reason: reason))
        for key in worker.running where !kept.contains(key) {
            endAttempt(key, lostState: .lost, reason: "worker \(id) \(describe(reason))", into: &actions)
        }
    }

    /// Ends the current attempt `key` of a RUNNING trial as `retryOrFail` does; the other members of its gang
    /// are told to stop and their slots are freed.
    mutating func endAttempt(_ key: TrialAttempt, lostState: TrialState, reason: String, into actions: inout [Action]) {
        guard let trial = trials[key.trialID], trial.state == .running, trial.attempt == key.attempt else { return }
        stopOtherMembers(of: key, reason: reason, into: &actions)
        retryOrFail(key.trialID, lostState: lostState, reason: reason, into: &actions)
    }

    /// Cancels attempt `key` on the members of its gang that still run it and frees their slots.
    mutating func stopOtherMembers(of key: TrialAttempt, reason: String, into actions: inout [Action]) {
        guard trials[key.trialID]?.members.isEmpty == false else { return }
        cancel(key, reason: "the gang's attempt ended: \(reason)", into: &actions)
    }

    /// Cancels the current attempt `key` on every worker that still runs it (each member of a gang) and frees
    /// their slots.
    mutating func cancel(_ key: TrialAttempt, reason: String, into actions: inout [Action]) {
        guard let trial = trials[key.trialID], trial.attempt == key.attempt else { return }
        for worker in trial.workers where workers[worker]?.running.contains(key) == true {
            workers[worker]?.running.removeAll { $0 == key }
            let cancellation = Cancellation(trialID: key.trialID, attempt: key.attempt, reason: reason)
            actions.append(.send(.cancel(cancellation), to: worker))
        }
    }

    /// Ends the current attempt of a RUNNING trial: back in line as `lostState` while the retry budget
    /// lasts (at the front, so that retries finish early), FAILED afterwards.
    mutating func retryOrFail(_ trialID: Int, lostState: TrialState, reason: String, into actions: inout [Action]) {
        guard let trial = trials[trialID], trial.state == .running else { return }
        if trial.attempt < configuration.maxAttempts {
            let wait = trial.spec.workersPerTrial > 1 ? backOff(trialID, base: configuration.gangRetryDelay) : nil
            setState(trialID, lostState, reason: reason + (wait?.text ?? ""), retryAfter: wait?.until, into: &actions)
            pending.insert(trialID, at: 0)
        } else {
            let budget = "retry budget of \(configuration.maxAttempts) attempts spent"
            setState(trialID, .failed, reason: "\(reason); \(budget)", into: &actions)
        }
    }

    /// Holds a gang trial back for its next delay (`base` doubling per failure in a row, at most `gangRetryDelayCap`):
    /// until when, and the words for the reason. `base` is `gangFormationTimeout` after a gang that did not form
    /// (other trials pass for as long again) and `gangRetryDelay` after one that broke.
    mutating func backOff(_ trialID: Int, base: Double) -> (until: Double, text: String) {
        let failures = (gangFailures[trialID] ?? 0) + 1
        gangFailures[trialID] = failures
        let delay = min(base * Double(1 << min(failures - 1, 20)), max(base, configuration.gangRetryDelayCap))
        gangBackoff[trialID] = now + delay
        return (now + delay, "; gang failure \(failures) in a row, next try in \(Int(delay.rounded())) s")
    }

    mutating func setState(_ trialID: Int, _ state: TrialState, reason: String? = nil, stop: TrialStop? = nil,
                           retryAfter: Double? = nil, into actions: inout [Action]) {
        guard var trial = trials[trialID] else { return }
        if trial.state.isFinal != state.isFinal { unfinishedCount += state.isFinal ? -1 : 1 }
        trial.state = state
        trial.worker = nil
        trial.members = []
        trial.reattachDeadline = nil
        trials[trialID] = trial
        actions.append(.trialChanged(TrialChange(trialID: trialID, state: state, attempt: trial.attempt,
                                                 reason: reason, stop: stop, retryAfter: retryAfter)))
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
