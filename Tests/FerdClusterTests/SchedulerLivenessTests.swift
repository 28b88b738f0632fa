import XCTest
@testable import FerdCluster

final class SchedulerLivenessTests: XCTestCase {
    func testWorkerIsDeadOnlyAfterFiveMissedHeartbeats() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a", at: 10)
        XCTAssertTrue(scheduler.handle(.tick(at: 15)).isEmpty, "five seconds of silence is still alive")
        let actions = scheduler.handle(.tick(at: 15.001))
        XCTAssertEqual(actions.first, .workerGone("a", reason: .timedOut(lastSeen: 10)))
        XCTAssertEqual(stateChanges(actions).map(\.state), [.lost])
        XCTAssertNil(scheduler.workers["a"])
        XCTAssertEqual(scheduler.pending, [1])
    }

    func testAnyMessageCountsAsAHeartbeat() {
        var scheduler = Scheduler()
        scheduler.join("a", at: 0)
        _ = scheduler.receive(heartbeat(1), from: "a", at: 4)
        _ = scheduler.receive(.chunkCredit(ChunkCredit(transferID: 1, credit: 1)), from: "a", at: 8)
        XCTAssertTrue(scheduler.handle(.tick(at: 13)).isEmpty)
        XCTAssertEqual(scheduler.workers["a"]?.lastSeen, 8)
    }

    func testAnOldTimestampDoesNotMoveLastSeenBack() {
        var scheduler = Scheduler()
        scheduler.join("a", at: 5)
        _ = scheduler.receive(heartbeat(1), from: "a", at: 2)
        XCTAssertEqual(scheduler.workers["a"]?.lastSeen, 5)
    }

    func testLostTrialMovesToAnotherWorkerWithTheNextAttempt() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a", at: 0)
        scheduler.join("b", slots: 1, at: 0)
        XCTAssertEqual(scheduler.trials[1]?.worker, "a")
        _ = scheduler.receive(heartbeat(1), from: "b", at: 5)
        let actions = scheduler.handle(.tick(at: 6))
        XCTAssertEqual(stateChanges(actions).map(\.state), [.lost, .running])
        XCTAssertEqual(assignments(actions).map(\.worker), ["b"])
        XCTAssertEqual(assignments(actions).map(\.key), [Key(trialID: 1, attempt: 2)])
    }

    func testLateResultFromTheLostAttemptIsIgnored() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a", at: 0)
        _ = scheduler.handle(.tick(at: 6))
        scheduler.join("b", at: 6)
        XCTAssertEqual(scheduler.trials[1]?.attempt, 2)
        scheduler.join("a", at: 7)
        let late = scheduler.receive(result(1, attempt: 1), from: "a", at: 7)
        XCTAssertTrue(storedResults(late).isEmpty)
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
        let current = scheduler.receive(result(1, attempt: 2), from: "b", at: 8)
        XCTAssertEqual(storedResults(current).map(\.attempt), [2])
    }

    func testLostTrialFailsWhenTheRetryBudgetIsSpent() {
        var scheduler = Scheduler(configuration: .init(maxAttempts: 2))
        scheduler.enqueue(1...1)
        scheduler.join("a", at: 0)
        _ = scheduler.handle(.tick(at: 6))
        scheduler.join("b", at: 6)
        let actions = scheduler.handle(.tick(at: 12))
        let change = stateChanges(actions).last
        XCTAssertEqual(change?.state, .failed)
        XCTAssertEqual(change?.attempt, 2)
        XCTAssertTrue(change?.reason?.contains("missed 5 heartbeats") ?? false, change?.reason ?? "")
        XCTAssertTrue(scheduler.isFinished)
    }

    func testByeReleasesTheWorkersTrials() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...2)
        scheduler.join("a", slots: 2)
        let actions = scheduler.receive(.bye, from: "a", at: 1)
        XCTAssertEqual(actions.first, .workerGone("a", reason: .left))
        XCTAssertEqual(stateChanges(actions).map(\.state), [.lost, .lost])
        XCTAssertEqual(scheduler.pending.sorted(), [1, 2])
    }

    func testReconnectingWorkerLosesWhatItWasRunning() {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a")
        let actions = scheduler.join("a", at: 1)
        XCTAssertEqual(actions.first, .workerGone("a", reason: .reconnected))
        XCTAssertEqual(assignments(actions).map(\.key), [Key(trialID: 1, attempt: 2)])
    }

    func testCustomHeartbeatPolicy() {
        var scheduler = Scheduler(configuration: .init(heartbeatInterval: 0.5, missedHeartbeatsBeforeDead: 3))
        scheduler.join("a", at: 0)
        XCTAssertTrue(scheduler.handle(.tick(at: 1.5)).isEmpty)
        XCTAssertEqual(scheduler.handle(.tick(at: 1.6)).first, .workerGone("a", reason: .timedOut(lastSeen: 0)))
    }
}
