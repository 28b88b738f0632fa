import XCTest
@testable import FerdCluster

final class WorkerSessionTests: XCTestCase {
    private let hello = Hello(workerID: "w", ferdVersion: "t", cores: 1, backend: "cpu", slots: 2)
    private let key = Scheduler.TrialAttempt(trialID: 1, attempt: 1)

    private func session() -> WorkerSession {
        WorkerSession(configuration: WorkerSession.Configuration(hello: hello, heartbeatInterval: 1,
                                                                 missedHeartbeatsBeforeDead: 5, reconnectDelay: 1,
                                                                 maxReconnectDelay: 4))
    }

    private func welcomed() -> WorkerSession {
        var session = session()
        _ = session.handle(.start(at: 0))
        _ = session.handle(.received(.ack(Acknowledgement(kind: .hello)), at: 0))
        return session
    }

    private func assign(_ trialID: Int, attempt: Int = 1) -> Message {
        .assign(Assignment(trialID: trialID, attempt: attempt, configJSON: "{}"))
    }

    func testStartConnectsAndRegistersWithAllSlotsFree() {
        var session = session()
        XCTAssertEqual(session.handle(.start(at: 0)),
                       [.connect, .send(.hello(hello)), .send(.ready(Ready(credit: 2)))])
        XCTAssertFalse(session.hasBeenWelcomed, "nothing answered yet (the worker's hint names the endpoint and keys)")
        XCTAssertTrue(welcomed().hasBeenWelcomed)
    }

    func testAssignmentsBeyondTheSlotsAreRefusedAsRetryable() {
        var session = welcomed()
        XCTAssertEqual(session.handle(.received(assign(1), at: 1)),
                       [.startTrial(Assignment(trialID: 1, attempt: 1, configJSON: "{}"))])
        XCTAssertEqual(session.handle(.received(assign(1), at: 1)), [], "a duplicate ASSIGN starts nothing")
        _ = session.handle(.received(assign(2), at: 1))
        let refusal = session.handle(.received(assign(3), at: 1))
        guard case let .send(.fail(failure)) = refusal.first else { return XCTFail("\(refusal)") }
        XCTAssertTrue(failure.retryable)
        XCTAssertEqual(session.running.count, 2)
    }

    func testResultIsResentEveryIntervalUntilAcknowledged() {
        var session = welcomed()
        _ = session.handle(.received(assign(1), at: 0))
        let result = Message.result(resultReport())
        XCTAssertEqual(session.handle(.finished(key, result, at: 0.5)),
                       [.send(result), .send(.ready(Ready(credit: 2)))])
        _ = session.handle(.received(.heartbeat(Heartbeat(sequence: 1, timestamp: 1)), at: 1.2))
        let resent = session.handle(.tick(at: 1.6))
        XCTAssertEqual(resent.count, 2)
        XCTAssertEqual(resent.last, .send(result))
        _ = session.handle(.received(.ack(Acknowledgement(kind: .result, trialID: 1, attempt: 1)), at: 1.7))
        XCTAssertTrue(session.pendingReports.isEmpty)
        XCTAssertEqual(session.handle(.tick(at: 2.7)).count, 1, "only the heartbeat")
    }

    func testSilentCoordinatorIsDeclaredDeadAndReconnectedWithDoublingBackOff() {
        var session = welcomed()
        _ = session.handle(.received(assign(1), at: 0))
        XCTAssertEqual(session.handle(.tick(at: 5.1)), [.disconnect])
        XCTAssertFalse(session.isConnected)
        let metric = MetricReport(trialID: 1, attempt: 1, epoch: 1, trainLoss: 1, uar: 0.5, war: 0.5,
                                  learningRate: 0.1, seconds: 1, confusion: Fixtures.zeroConfusion)
        XCTAssertEqual(session.handle(.metric(metric, at: 5.5)), [], "buffered while disconnected")
        let result = Message.result(resultReport())
        XCTAssertEqual(session.handle(.finished(key, result, at: 5.8)), [])
        XCTAssertEqual(session.handle(.tick(at: 6.0)), [], "back-off of 1 s not over")
        var registration = hello
        registration.running = []
        XCTAssertEqual(session.handle(.tick(at: 6.1)), [.connect, .send(.hello(registration)), .send(.ready(Ready(credit: 2)))],
                       "every reconnection registers again, listing the attempts still running (none)")
        let welcome = session.handle(.received(.ack(Acknowledgement(kind: .hello)), at: 6.2))
        XCTAssertEqual(welcome, [.send(.metric(metric)), .send(result)], "buffered and unacknowledged reports follow the welcome")
        XCTAssertEqual(session.handle(.tick(at: 11.3)).first, .disconnect)
        XCTAssertEqual(session.handle(.tick(at: 12.2)), [], "the welcome reset the back-off to 1 s")
        XCTAssertEqual(session.handle(.tick(at: 12.4)).first, .connect)
        XCTAssertEqual(session.handle(.tick(at: 17.5)).first, .disconnect, "no answer to the HELLO")
        XCTAssertEqual(session.handle(.tick(at: 19.4)), [], "second back-off is 2 s")
        XCTAssertEqual(session.handle(.tick(at: 19.6)).first, .connect)
        _ = session.handle(.tick(at: 24.7))
        XCTAssertEqual(session.handle(.tick(at: 28.6)), [], "third back-off is 4 s")
        XCTAssertEqual(session.handle(.tick(at: 28.8)).first, .connect)
        _ = session.handle(.tick(at: 33.9))
        XCTAssertEqual(session.handle(.tick(at: 37.8)), [], "capped at the maximum of 4 s")
        XCTAssertEqual(session.handle(.tick(at: 38.0)).first, .connect)
    }

    func testByeAfterWelcomeRegistersAgainListingTheRunningAttempts() {
        var session = welcomed()
        _ = session.handle(.received(assign(1), at: 0))
        let metric = MetricReport(trialID: 1, attempt: 1, epoch: 1, trainLoss: 1, uar: 0.5, war: 0.5,
                                  learningRate: 0.1, seconds: 1, confusion: Fixtures.zeroConfusion)
        XCTAssertEqual(session.handle(.metric(metric, at: 0.5)), [.send(.metric(metric))])
        var registration = hello
        registration.running = [key]
        XCTAssertEqual(session.handle(.received(.bye, at: 1)),
                       [.send(.hello(registration)), .send(.ready(Ready(credit: 1)))],
                       "the attempt keeps running; the restarted coordinator decides whether to re-attach it")
        XCTAssertEqual(session.handle(.received(.bye, at: 1.1)), [], "BYEs answering older messages are ignored")
        let result = Message.result(resultReport())
        XCTAssertEqual(session.handle(.finished(key, result, at: 1.2)), [.send(result), .send(.ready(Ready(credit: 2)))])
        XCTAssertEqual(session.handle(.received(.ack(Acknowledgement(kind: .hello)), at: 1.3)),
                       [.send(.metric(metric)), .send(result)],
                       "the recent METRIC (possibly lost with the old coordinator) and the unacknowledged RESULT again")
        XCTAssertEqual(session.pendingReports, [result])
    }

    func testCancelStopsTheAttemptWithoutReportingIt() {
        var session = welcomed()
        _ = session.handle(.received(assign(1), at: 0))
        let cancel = Message.cancel(Cancellation(trialID: 1, attempt: 1, reason: "superseded"))
        XCTAssertEqual(session.handle(.received(cancel, at: 1)), [.cancelTrial(key)])
        XCTAssertEqual(session.handle(.received(cancel, at: 1)), [])
        XCTAssertEqual(session.handle(.finished(key, nil, at: 2)), [.send(.ready(Ready(credit: 2)))])
    }

    func testHeartbeatsCarryIncreasingSequenceNumbers() {
        var session = welcomed()
        var sequences: [UInt64] = []
        for second in 1...3 {
            _ = session.handle(.received(.heartbeat(Heartbeat(sequence: 0, timestamp: 0)), at: Double(second)))
            for action in session.handle(.tick(at: Double(second))) {
                if case let .send(.heartbeat(beat)) = action { sequences.append(beat.sequence) }
            }
        }
        XCTAssertEqual(sequences, [1, 2, 3])
    }

    private func resultReport() -> ResultReport {
        var report = Fixtures.result
        report.trialID = 1
        report.attempt = 1
        return report
    }
}
