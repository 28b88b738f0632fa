import FerdLeaderboard
import Foundation
import Logging
import XCTest
@testable import FerdCluster
@testable import FerdLeaderboard

/// The worker's two-level stop and the coordinator's batched writes.
final class GracefulStopTests: XCTestCase {
    private let hello = Hello(workerID: "w", ferdVersion: "t", cores: 1, backend: "cpu", slots: 2)

    func testLeavingWorkerAdvertisesNoCreditAndRefusesAssignments() {
        var session = WorkerSession(configuration: WorkerSession.Configuration(hello: hello))
        _ = session.handle(.start(at: 0))
        _ = session.handle(.received(.ack(Acknowledgement(kind: .hello)), at: 0))
        XCTAssertEqual(session.handle(.leave(at: 1)), [.send(.ready(Ready(credit: 0)))])
        XCTAssertEqual(session.handle(.leave(at: 1)), [], "leaving twice changes nothing")
        let refusal = session.handle(.received(.assign(Assignment(trialID: 3, attempt: 1, configJSON: "{}")), at: 2))
        guard case let .send(.fail(failure)) = refusal.first else { return XCTFail("\(refusal)") }
        XCTAssertTrue(failure.retryable)
        XCTAssertTrue(failure.error.contains("shutting down"), failure.error)
        XCTAssertTrue(session.running.isEmpty)
    }

    /// Ten epochs of 30 ms; `finishEpochs` during epoch 2 lets epoch 2 end and be reported, then stops.
    func testFinishEpochsStopsAtTheNextEpochBoundaryAndReportsAnInterruption() throws {
        let threads = TrialThreads(runner: EpochRunner(epochs: 10, seconds: 0.03), workerID: "w")
        threads.start(Assignment(trialID: 7, attempt: 1, configJSON: "{}"))
        var metrics: [Int] = []
        var finished: Message??
        let deadline = Date().addingTimeInterval(5)
        var asked = false
        while finished == nil, Date() < deadline {
            for report in threads.drain() {
                switch report {
                case let .metric(metric, _): metrics.append(metric.epoch)
                case let .finished(_, message, _): finished = .some(message)
                }
            }
            if !asked, metrics == [1] {
                Thread.sleep(forTimeInterval: 0.01)
                threads.finishEpochs()
                asked = true
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        XCTAssertTrue(threads.waitForAll(timeout: 2))
        XCTAssertEqual(metrics, [1, 2], "the running epoch finished and was reported; no further epoch began")
        guard case let .fail(failure)?? = finished else { return XCTFail("\(String(describing: finished))") }
        XCTAssertTrue(failure.retryable)
        XCTAssertTrue(failure.error.contains("interrupted") && failure.error.contains("after epoch 2"), failure.error)
    }

    func testInterruptAllStopsBetweenStepsAndReportsAnInterruption() throws {
        let threads = TrialThreads(runner: EpochRunner(epochs: 3, seconds: 5), workerID: "w")
        threads.start(Assignment(trialID: 8, attempt: 2, configJSON: "{}"))
        Thread.sleep(forTimeInterval: 0.05)
        threads.interruptAll()
        XCTAssertTrue(threads.waitForAll(timeout: 2), "stopped within a step, not after the 5 s epoch")
        let reports = threads.drain()
        XCTAssertEqual(reports.count, 1)
        guard case let .finished(key, .fail(failure)?, _)? = reports.first else { return XCTFail("\(reports)") }
        XCTAssertEqual(key, Scheduler.TrialAttempt(trialID: 8, attempt: 2))
        XCTAssertTrue(failure.retryable)
        XCTAssertTrue(failure.error.contains("before its first epoch ended"), failure.error)
    }

    func testCancelledAttemptIsNotReportedEvenWhenTheWorkerStops() {
        let threads = TrialThreads(runner: EpochRunner(epochs: 3, seconds: 5), workerID: "w")
        let key = Scheduler.TrialAttempt(trialID: 9, attempt: 1)
        threads.start(Assignment(trialID: 9, attempt: 1, configJSON: "{}"))
        threads.cancel(key)
        threads.interruptAll()
        XCTAssertTrue(threads.waitForAll(timeout: 2))
        guard case .finished(key, nil, nil)? = threads.drain().first else { return XCTFail("a cancelled attempt was reported") }
    }

    /// `aborted` (what a gang member's blocking exchange polls) turns true for a CANCEL or an immediate stop,
    /// never for a graceful stop at an epoch boundary, which the gang must reach together.
    func testAbortedIsTrueForCancelAndInterruptButNotForAGracefulStop() {
        for stop in ["cancel", "interrupt", "finish epochs"] {
            let runner = AbortWatcher()
            let threads = TrialThreads(runner: runner, workerID: "w")
            let key = Scheduler.TrialAttempt(trialID: 4, attempt: 1)
            threads.start(Assignment(trialID: 4, attempt: 1, configJSON: "{}"))
            XCTAssertTrue(runner.started.wait(timeout: .now() + 5) == .success)
            switch stop {
            case "cancel": threads.cancel(key)
            case "interrupt": threads.interruptAll()
            default: threads.finishEpochs()
            }
            XCTAssertTrue(threads.waitForAll(timeout: 3), stop)
            XCTAssertEqual(runner.sawAbort, stop != "finish epochs", stop)
        }
    }

    func testBatchCommitsTogetherOrNotAtAll() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let leaderboard = try Leaderboard(path: directory.appendingPathComponent("b.db").path, logger: Logger(label: "t"))
        let experiment = try leaderboard.findOrCreateExperiment(name: "e", contentHash: "h", config: "{}", at: Date()).experiment
        let ids = try leaderboard.insertTrials(experimentID: experiment.id, plans: [TrialPlan(paramsJSON: "{}", fold: 1, seed: 1),
                                                                                   TrialPlan(paramsJSON: "{}", fold: 2, seed: 1)],
                                               at: Date())
        struct Boom: Error {}
        XCTAssertThrowsError(try leaderboard.batch {
            try leaderboard.applyStateChanges([TrialStateChange(trialID: ids[0], state: .running, attempts: 1, worker: "w")],
                                              at: Date())
            throw Boom()
        })
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id).map(\.state), [.queued, .queued], "rolled back")
        try leaderboard.batch {
            try leaderboard.applyStateChanges([TrialStateChange(trialID: ids[0], state: .running, attempts: 1, worker: "w")],
                                              at: Date())
            // A failing inner write rolls back only itself (a savepoint) when the batch goes on.
            XCTAssertThrowsError(try leaderboard.applyStateChanges([TrialStateChange(trialID: 999, state: .done, attempts: 1)],
                                                                   at: Date()))
            try leaderboard.applyStateChanges([TrialStateChange(trialID: ids[1], state: .running, attempts: 1, worker: "w")],
                                              at: Date())
        }
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id).map(\.state), [.running, .running])
    }

    func testFastMatrixJSONEqualsJSONEncoder() throws {
        for matrix in [[[Int]](), [[0]], [[1, -2, 30], [400_000, 0, 7]], (0..<7).map { row in (0..<7).map { row * 7 + $0 } }] {
            let generic = String(decoding: try JSONEncoder().encode(matrix), as: UTF8.self)
            XCTAssertEqual(try JSONText.encode(matrix), generic)
        }
    }
}

/// Reports `epochs` epochs of `seconds` each, checking `cancelled` every 2 ms within an epoch and after it.
private struct EpochRunner: TrialRunner {
    let epochs: Int
    let seconds: Double

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        for epoch in 1...epochs {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if cancelled() { return .failed(reason: "stopped in epoch \(epoch)", retryable: true) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            report(MetricEvent(epoch: epoch, trainLoss: 1, uar: 0.5, war: 0.5, learningRate: 0.1, seconds: seconds,
                               confusion: FakeRunner.confusion))
            if cancelled() { return .failed(reason: "stopped after epoch \(epoch)", retryable: true) }
        }
        return .completed(TrialScores(bestEpoch: epochs, uar: 0.5, war: 0.5, perClassRecall: Array(repeating: 0.5, count: 7),
                                      confusion: FakeRunner.confusion, checkpointSHA256: String(repeating: "0", count: 64),
                                      checkpointSize: 0))
    }
}

/// Reports one epoch, then waits (at most 2 s) for `aborted`, recording whether it turned true.
private final class AbortWatcher: TrialRunner, @unchecked Sendable {
    let started = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var aborted = false
    var sawAbort: Bool { lock.withLock { aborted } }

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        .failed(reason: "needs the resume entry point", retryable: false)
    }

    func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void, cancelled: () -> Bool,
             aborted isAborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        report(MetricEvent(epoch: 1, trainLoss: 1, uar: 0.5, war: 0.5, learningRate: 0.1, seconds: 0.01,
                           confusion: FakeRunner.confusion))
        started.signal()
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            if isAborted() {
                lock.withLock { aborted = true }
                break
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return .failed(reason: "stopped", retryable: true)
    }
}
