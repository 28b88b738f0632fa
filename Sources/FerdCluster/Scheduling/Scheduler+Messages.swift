extension Scheduler {
    /// Handles one message from a worker. Any message from a registered worker proves it alive.
    mutating func receive(_ message: Message, from id: WorkerID, at time: Double, into actions: inout [Action]) {
        if case let .hello(hello) = message {
            register(hello, as: id, at: time, into: &actions)
            return
        }
        guard let worker = workers[id] else {
            if message != .bye {
                actions.append(.discarded(message, from: id, reason: "worker \(id) is not registered"))
                actions.append(.send(.bye, to: id))
            }
            return
        }
        workers[id]?.lastSeen = max(worker.lastSeen, time)
        switch message {
        case let .ready(ready):
            workers[id]?.credit = ready.credit
        case let .metric(metric):
            let key = TrialAttempt(trialID: metric.trialID, attempt: metric.attempt)
            if let reason = staleness(of: key, from: id) {
                actions.append(.discarded(message, from: id, reason: reason))
                let cancellation = Cancellation(trialID: key.trialID, attempt: key.attempt, reason: reason)
                actions.append(.send(.cancel(cancellation), to: id))
            } else {
                actions.append(.recordMetric(metric, worker: id))
            }
        case let .result(result):
            let key = TrialAttempt(trialID: result.trialID, attempt: result.attempt)
            if let reason = staleness(of: key, from: id) {
                actions.append(.discarded(message, from: id, reason: reason))
            } else {
                finish(key, on: id)
                actions.append(.recordResult(result, worker: id))
                setState(key.trialID, .done, into: &actions)
            }
            actions.append(.send(.ack(Acknowledgement(kind: .result, trialID: key.trialID, attempt: key.attempt)),
                                 to: id))
        case let .fail(failure):
            let key = TrialAttempt(trialID: failure.trialID, attempt: failure.attempt)
            if let reason = staleness(of: key, from: id) {
                actions.append(.discarded(message, from: id, reason: reason))
            } else {
                finish(key, on: id)
                if failure.retryable {
                    retryOrFail(key.trialID, lostState: .queued, reason: failure.error, into: &actions)
                } else {
                    setState(key.trialID, .failed, reason: failure.error, into: &actions)
                }
            }
            actions.append(.send(.ack(Acknowledgement(kind: .fail, trialID: key.trialID, attempt: key.attempt)),
                                 to: id))
        case .bye:
            unregister(id, reason: .left, into: &actions)
        case .heartbeat, .ack, .chunk, .chunkCredit:
            break
        case .assign, .cancel, .hello:
            actions.append(.discarded(message, from: id, reason: "only the coordinator sends \(message.type.name)"))
        }
    }

    private mutating func register(_ hello: Hello, as id: WorkerID, at time: Double, into actions: inout [Action]) {
        unregister(id, reason: .reconnected, into: &actions)
        workers[id] = Worker(id: id, slots: hello.slots, credit: 0, lastSeen: time, running: [])
        registrationOrder.append(id)
        actions.append(.workerJoined(hello, at: time))
        actions.append(.send(.ack(Acknowledgement(kind: .hello)), to: id))
    }

    /// Nil when `key` is the current attempt of a trial RUNNING on `worker`; otherwise why it is not.
    private func staleness(of key: TrialAttempt, from worker: WorkerID) -> String? {
        guard let trial = trials[key.trialID] else { return "unknown trial \(key.trialID)" }
        if trial.state == .done, trial.attempt == key.attempt {
            return "duplicate: trial \(key.trialID) attempt \(key.attempt) is already done"
        }
        guard trial.state == .running, trial.attempt == key.attempt, trial.worker == worker else {
            return "trial \(key.trialID) attempt \(key.attempt) is not current (trial is \(trial.state.rawValue), "
                + "attempt \(trial.attempt))"
        }
        return nil
    }

    /// Frees the worker's slot held by `key`.
    private mutating func finish(_ key: TrialAttempt, on worker: WorkerID) {
        workers[worker]?.running.removeAll { $0 == key }
    }
}
