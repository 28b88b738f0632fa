import XCTest
@testable import FerdCluster

final class SchedulerAssignmentTests: XCTestCase {
    static let resumePoint = ResumePoint(epoch: 4, checkpoint: CheckpointDescriptor(size: 10, sha256: String(repeating: "e", count: 64)))

    func testQueuedTrialsFillAdvertisedSlotsInOrder() {
        var scheduler = Scheduler()
        let queued = scheduler.enqueue(1...5)
        XCTAssertEqual(stateChanges(queued).map(\.state), Array(repeating: .queued, count: 5))
        let actions = scheduler.join("a", slots: 2) + scheduler.join("b", slots: 1)
        XCTAssertEqual(assignments(actions).map(\.worker), ["a", "a", "b"])
        XCTAssertEqual(assignments(actions).map(\.key.trialID), [1, 2, 3])
        XCTAssertEqual(assignments(actions).map(\.key.attempt), [1, 1, 1])
        XCTAssertEqual(scheduler.pending, [4, 5])
        XCTAssertEqual(scheduler.trials(in: .running).map(\.worker), ["a", "a", "b"])
    }

    func testAssignmentCarriesTheConfigAndStoresRunningFirst() {
        var scheduler = Scheduler()
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 9, configJSON: #"{"lr":1}"#, resume: Self.resumePoint)]))
        let actions = scheduler.join("a")
        let tail = Array(actions.suffix(3))
        let assignment = Assignment(trialID: 9, attempt: 1, configJSON: #"{"lr":1}"#, resume: Self.resumePoint)
        XCTAssertEqual(tail, [
            .trialChanged(Scheduler.TrialChange(trialID: 9, state: .running, attempt: 1, worker: "a")),
            .offerResumeCheckpoint(assignment, to: "a"),
            .send(.assign(assignment), to: "a"),
        ])
    }

    func testNothingIsAssignedBeforeReady() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...2)
        let hello = Hello(workerID: "a", ferdVersion: "t", cores: 1, backend: "cpu", slots: 2)
        XCTAssertTrue(assignments(scheduler.receive(.hello(hello), from: "a", at: 0)).isEmpty)
        XCTAssertEqual(assignments(scheduler.receive(.ready(Ready(credit: 1)), from: "a", at: 0)).count, 1)
    }

    func testCreditNeverExceedsSlots() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...5)
        scheduler.join("a", slots: 1)
        let actions = scheduler.receive(.ready(Ready(credit: 4)), from: "a", at: 1)
        XCTAssertTrue(assignments(actions).isEmpty, "the one slot is busy")
        XCTAssertEqual(scheduler.workers["a"]?.running.count, 1)
    }

    func testTheWorkerWithMostFreeSlotsGetsTheNextTrial() {
        var scheduler = Scheduler()
        scheduler.join("a", slots: 1)
        scheduler.join("b", slots: 3)
        let actions = scheduler.enqueue(1...3)
        XCTAssertEqual(assignments(actions).map(\.worker), ["b", "b", "a"])
    }

    func testAFreedSlotIsReusedAfterReady() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...2)
        scheduler.join("a")
        _ = scheduler.receive(result(1, attempt: 1), from: "a", at: 1)
        let next = scheduler.receive(.ready(Ready(credit: 1)), from: "a", at: 1)
        XCTAssertEqual(assignments(next).map(\.key), [Key(trialID: 2, attempt: 1)])
    }

    func testEnqueueingAKnownTrialAgainDoesNothing() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        XCTAssertTrue(scheduler.enqueue(1...1).isEmpty)
        XCTAssertEqual(scheduler.pending, [1])
    }

    func testResumedTrialContinuesItsAttemptCount() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1, attemptsSoFar: 1)
        XCTAssertEqual(assignments(scheduler.join("a")).map(\.key), [Key(trialID: 1, attempt: 2)])
    }

    func testResumedTrialWithItsBudgetSpentFailsAtOnce() {
        var scheduler = Scheduler(configuration: .init(maxAttempts: 2))
        let actions = scheduler.enqueue(1...1, attemptsSoFar: 2)
        XCTAssertEqual(stateChanges(actions).map(\.state), [.failed])
        XCTAssertTrue(scheduler.isFinished)
        XCTAssertTrue(assignments(scheduler.join("a")).isEmpty)
    }

    func testSchedulerIsAValue() {
        var original = Scheduler()
        original.enqueue(1...1)
        var copy = original
        copy.join("a")
        XCTAssertEqual(original.trials[1]?.state, .queued)
        XCTAssertEqual(copy.trials[1]?.state, .running)
        XCTAssertNotEqual(original, copy)
    }
}

final class SchedulerWelcomeTests: XCTestCase {
    func testHelloIsAcknowledged() {
        var scheduler = Scheduler()
        let hello = Hello(workerID: "a", ferdVersion: "t", cores: 1, backend: "cpu", slots: 1)
        let actions = scheduler.receive(.hello(hello), from: "a", at: 0)
        XCTAssertEqual(actions, [.workerJoined(hello, at: 0), .send(.ack(Acknowledgement(kind: .hello)), to: "a")])
    }
}
