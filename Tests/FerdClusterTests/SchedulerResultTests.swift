import XCTest
@testable import FerdCluster

final class SchedulerResultTests: XCTestCase {
    private func runningScheduler() -> Scheduler {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a")
        return scheduler
    }

    func testResultIsStoredBeforeItIsAcknowledged() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(result(1, attempt: 1), from: "a", at: 2)
        guard case let .recordResult(report, worker) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(report.trialID, 1)
        XCTAssertEqual(worker, "a")
        XCTAssertEqual(stateChanges(actions).map(\.state), [.done])
        XCTAssertEqual(actions.last, .send(.ack(Acknowledgement(kind: .result, trialID: 1, attempt: 1)), to: "a"))
        XCTAssertTrue(scheduler.isFinished)
        XCTAssertEqual(scheduler.workers["a"]?.running, [])
    }

    func testDuplicateResultIsAcknowledgedButNotStoredAgain() {
        var scheduler = runningScheduler()
        _ = scheduler.receive(result(1, attempt: 1), from: "a", at: 2)
        let again = scheduler.receive(result(1, attempt: 1), from: "a", at: 3)
        XCTAssertTrue(storedResults(again).isEmpty)
        XCTAssertTrue(stateChanges(again).isEmpty)
        XCTAssertEqual(again.last, .send(.ack(Acknowledgement(kind: .result, trialID: 1, attempt: 1)), to: "a"))
        guard case let .discarded(_, _, reason) = again.first else { return XCTFail("\(again)") }
        XCTAssertTrue(reason.contains("duplicate"), reason)
    }

    func testResultFromAnotherWorkerIsIgnored() {
        var scheduler = runningScheduler()
        scheduler.join("b")
        XCTAssertTrue(storedResults(scheduler.receive(result(1, attempt: 1), from: "b", at: 2)).isEmpty)
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
    }

    func testResultForAnUnknownTrialIsIgnored() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(result(77, attempt: 1), from: "a", at: 2)
        XCTAssertTrue(storedResults(actions).isEmpty)
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
    }

    func testMetricOfTheCurrentAttemptIsRecorded() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(metric(1, attempt: 1), from: "a", at: 1)
        guard case .recordMetric(_, worker: "a") = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(actions.count, 1)
    }

    func testMetricOfAStaleAttemptIsDiscardedAndCancelled() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(metric(1, attempt: 7), from: "a", at: 1)
        XCTAssertEqual(actions.count, 2)
        guard case .discarded = actions[0], case let .send(.cancel(cancellation), to: "a") = actions[1] else {
            return XCTFail("\(actions)")
        }
        XCTAssertEqual(Key(trialID: cancellation.trialID, attempt: cancellation.attempt), Key(trialID: 1, attempt: 7))
    }

    func testRetryableFailureRequeuesWithTheNextAttempt() {
        var scheduler = runningScheduler()
        let failure = FailureReport(trialID: 1, attempt: 1, error: "out of memory", retryable: true)
        let actions = scheduler.receive(.fail(failure), from: "a", at: 1)
        XCTAssertEqual(stateChanges(actions).first, Scheduler.TrialChange(trialID: 1, state: .queued, attempt: 1,
                                                                          reason: "out of memory"))
        XCTAssertEqual(actions.last, .send(.ack(Acknowledgement(kind: .fail, trialID: 1, attempt: 1)), to: "a"))
        let next = scheduler.receive(.ready(Ready(credit: 1)), from: "a", at: 1)
        XCTAssertEqual(assignments(next).map(\.key), [Key(trialID: 1, attempt: 2)])
    }

    func testPermanentFailureEndsTheTrial() {
        var scheduler = runningScheduler()
        let failure = FailureReport(trialID: 1, attempt: 1, error: "bad config", retryable: false)
        let actions = scheduler.receive(.fail(failure), from: "a", at: 1)
        XCTAssertEqual(stateChanges(actions).map(\.state), [.failed])
        XCTAssertTrue(scheduler.isFinished)
    }

    func testRetryableFailureOnTheLastAttemptFails() {
        var scheduler = Scheduler(configuration: .init(maxAttempts: 1))
        scheduler.enqueue(1...1)
        scheduler.join("a")
        let failure = FailureReport(trialID: 1, attempt: 1, error: "oom", retryable: true)
        let change = stateChanges(scheduler.receive(.fail(failure), from: "a", at: 1)).first
        XCTAssertEqual(change?.state, .failed)
        XCTAssertTrue(change?.reason?.contains("retry budget of 1 attempts spent") ?? false)
    }

    func testMessagesFromAnUnregisteredWorkerAreAnsweredWithBye() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(heartbeat(1), from: "ghost", at: 1)
        guard case .discarded = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(actions.last, .send(.bye, to: "ghost"))
        XCTAssertTrue(scheduler.receive(.bye, from: "ghost", at: 1).isEmpty)
    }

    func testCoordinatorOnlyMessagesFromAWorkerAreDiscarded() {
        var scheduler = runningScheduler()
        let actions = scheduler.receive(.cancel(Cancellation(trialID: 1, attempt: 1, reason: "")), from: "a", at: 1)
        guard case .discarded = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
    }
}
