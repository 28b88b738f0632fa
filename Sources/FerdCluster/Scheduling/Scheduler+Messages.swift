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
            if isOtherGangMember(key, id) {
                break
            } else if let reason = staleness(of: key, from: id) {
                actions.append(.discarded(message, from: id, reason: reason))
                let cancellation = Cancellation(trialID: key.trialID, attempt: key.attempt, reason: reason)
                actions.append(.send(.cancel(cancellation), to: id))
            } else {
                actions.append(.recordMetric(metric, worker: id))
                if metric.resumeCheckpoint != nil, metric.epoch > trials[key.trialID]?.spec.resume?.epoch ?? 0 {
                    actions.append(.fetchResumeCheckpoint(metric, from: id))
                }
                gangFailures[key.trialID] = nil
                judge(metric, into: &actions)
            }
        case let .result(result):
            let key = TrialAttempt(trialID: result.trialID, attempt: result.attempt)
            if isOtherGangMember(key, id) || isLateGangMember(key, id) {
                finish(key, on: id)
            } else if let reason = staleness(of: key, from: id) {
                finish(key, on: id)
                actions.append(.discarded(message, from: id, reason: reason))
            } else {
                finish(key, on: id)
                actions.append(.recordResult(result, worker: id))
                actions.append(result.checkpointSize > 0 ? .fetchBestCheckpoint(result, from: id)
                                                         : .discardResumePoint(trialID: key.trialID))
                setState(key.trialID, .done, into: &actions)
            }
            actions.append(.send(.ack(Acknowledgement(kind: .result, trialID: key.trialID, attempt: key.attempt)),
                                 to: id))
        case let .fail(failure):
            let key = TrialAttempt(trialID: failure.trialID, attempt: failure.attempt)
            let fromGangMember = isOtherGangMember(key, id)
            if !fromGangMember, let reason = staleness(of: key, from: id) {
                finish(key, on: id)
                actions.append(.discarded(message, from: id, reason: reason))
            } else {
                finish(key, on: id)
                if failure.retryable {
                    let reason = fromGangMember ? "gang member \(id): \(failure.error)" : failure.error
                    endAttempt(key, lostState: .queued, reason: reason, into: &actions)
                } else {
                    stopOtherMembers(of: key, reason: failure.error, into: &actions)
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

    /// Registers a worker. Attempts it says it still runs stay with it when they are the current attempt of a
    /// trial RUNNING on it (re-attached after a coordinator restart, or kept across a reconnection); it is
    /// told to cancel the others. Its earlier registration's other attempts are lost.
    private mutating func register(_ hello: Hello, as id: WorkerID, at time: Double, into actions: inout [Action]) {
        let kept = hello.running.filter { key in
            guard let trial = trials[key.trialID] else { return false }
            return trial.state == .running && trial.attempt == key.attempt && trial.worker == id && trial.members.isEmpty
        }
        unregister(id, reason: .reconnected, keeping: kept, into: &actions)
        for trial in trials.values where trial.worker == id && trial.reattachDeadline != nil
            && !kept.contains(TrialAttempt(trialID: trial.spec.id, attempt: trial.attempt)) {
            retryOrFail(trial.spec.id, lostState: .lost, reason: "worker \(id) restarted without it", into: &actions)
        }
        workers[id] = Worker(id: id, engine: hello.engine, slots: hello.slots, credit: 0, lastSeen: time, running: kept)
        registrationOrder.append(id)
        actions.append(.workerJoined(hello, at: time))
        actions.append(.send(.ack(Acknowledgement(kind: .hello)), to: id))
        for key in kept where trials[key.trialID]?.reattachDeadline != nil {
            trials[key.trialID]?.reattachDeadline = nil
            actions.append(.trialChanged(TrialChange(trialID: key.trialID, state: .running, attempt: key.attempt,
                                                     worker: id, reason: "re-attached")))
        }
        for key in hello.running where !kept.contains(key) {
            let reason = "trial \(key.trialID) attempt \(key.attempt) is no longer yours"
            actions.append(.send(.cancel(Cancellation(trialID: key.trialID, attempt: key.attempt, reason: reason)),
                                 to: id))
        }
    }

    /// True when `worker` runs the current attempt `key` of a gang trial as a member other than rank 0, whose
    /// reports the coordinator does not need.
    private func isOtherGangMember(_ key: TrialAttempt, _ worker: WorkerID) -> Bool {
        guard let trial = trials[key.trialID], trial.state == .running, trial.attempt == key.attempt else { return false }
        return trial.members.dropFirst().contains(worker)
    }

    /// True when `worker` still runs `key` of a trial that rank 0 of the gang has already completed: the
    /// other members' RESULT only frees their slot.
    private func isLateGangMember(_ key: TrialAttempt, _ worker: WorkerID) -> Bool {
        guard let trial = trials[key.trialID], trial.state == .done, trial.attempt == key.attempt,
              trial.spec.workersPerTrial > 1 else { return false }
        return workers[worker]?.running.contains(key) == true
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
