@testable import FerdCluster

typealias Action = Scheduler.Action
typealias Key = Scheduler.TrialAttempt

extension Scheduler {
    /// Feeds a message from `worker` at `time`.
    mutating func receive(_ message: Message, from worker: WorkerID, at time: Double) -> [Action] {
        handle(.received(message, from: worker, at: time))
    }

    /// Registers `worker` with `slots` slots and advertises them all free.
    @discardableResult
    mutating func join(_ worker: WorkerID, slots: Int = 1, engine: TrainingEngine = .swift, at time: Double = 0) -> [Action] {
        let hello = Hello(workerID: worker, ferdVersion: "test", cores: 4, backend: "cpu", engine: engine, slots: slots)
        return receive(.hello(hello), from: worker, at: time) + receive(.ready(Ready(credit: slots)), from: worker, at: time)
    }

    @discardableResult
    mutating func enqueue(_ ids: ClosedRange<Int>, attemptsSoFar: Int = 0) -> [Action] {
        handle(.enqueue(ids.map { TrialSpec(id: $0, configJSON: #"{"trial":\#($0)}"#, attemptsSoFar: attemptsSoFar) }))
    }
}

/// The (worker, trial, attempt) of every ASSIGN among `actions`.
func assignments(_ actions: [Action]) -> [(worker: String, key: Key)] {
    actions.compactMap { action in
        guard case let .send(.assign(assignment), worker) = action else { return nil }
        return (worker, Key(trialID: assignment.trialID, attempt: assignment.attempt))
    }
}

func stateChanges(_ actions: [Action]) -> [Scheduler.TrialChange] {
    actions.compactMap { action in
        guard case let .trialChanged(change) = action else { return nil }
        return change
    }
}

func storedResults(_ actions: [Action]) -> [ResultReport] {
    actions.compactMap { action in
        guard case let .recordResult(result, _) = action else { return nil }
        return result
    }
}

func result(_ trialID: Int, attempt: Int) -> Message {
    var report = Fixtures.result
    report.trialID = trialID
    report.attempt = attempt
    return .result(report)
}

func metric(_ trialID: Int, attempt: Int, epoch: Int = 1) -> Message {
    .metric(MetricReport(trialID: trialID, attempt: attempt, epoch: epoch, trainLoss: 1, uar: 0.3, war: 0.4,
                         learningRate: 1e-4, seconds: 10, confusion: Fixtures.result.confusion))
}

func heartbeat(_ sequence: UInt64) -> Message {
    .heartbeat(Heartbeat(sequence: sequence, timestamp: 0))
}
