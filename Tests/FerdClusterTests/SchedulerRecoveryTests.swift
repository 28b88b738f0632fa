import XCTest
@testable import FerdCluster

/// Resume points, re-attachment after a coordinator restart and data-parallel gangs, without sockets.
final class SchedulerRecoveryTests: XCTestCase {
    private let point = ResumePoint(epoch: 3, checkpoint: CheckpointDescriptor(size: 99, sha256: String(repeating: "a", count: 64)))

    private func hello(_ worker: String, running: [Key] = [], slots: Int = 1) -> Message {
        .hello(Hello(workerID: worker, ferdVersion: "test", cores: 4, backend: "cpu", slots: slots, running: running))
    }

    func testALostTrialIsReassignedFromItsNewestResumePoint() {
        var scheduler = Scheduler()
        scheduler.join("a")
        scheduler.enqueue(1...1)
        _ = scheduler.handle(.resumePointStored(trialID: 1, point))
        var older = point
        older.epoch = 2
        _ = scheduler.handle(.resumePointStored(trialID: 1, older))
        XCTAssertEqual(scheduler.trials[1]?.spec.resume, point, "an older epoch never replaces a newer one")
        _ = scheduler.handle(.tick(at: 10))
        let actions = scheduler.join("b", at: 10)
        let assigned = actions.compactMap { action -> Assignment? in
            if case let .send(.assign(assignment), "b") = action { assignment } else { nil }
        }
        XCTAssertEqual(assigned.map(\.attempt), [2])
        XCTAssertEqual(assigned.first?.resume, point)
    }

    func testRestartedCoordinatorReattachesTheTrialItsWorkerStillRuns() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(reattachGrace: 30))
        _ = scheduler.handle(.enqueue([
            Scheduler.TrialSpec(id: 1, configJSON: "{}", attemptsSoFar: 2, runningOn: Scheduler.Reattachment(worker: "a", attempt: 2)),
            Scheduler.TrialSpec(id: 2, configJSON: "{}", attemptsSoFar: 1, runningOn: Scheduler.Reattachment(worker: "a", attempt: 1)),
        ], at: 100))
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
        XCTAssertTrue(scheduler.pending.isEmpty, "nothing is re-queued while the workers may come back")
        let actions = scheduler.receive(hello("a", running: [Key(trialID: 1, attempt: 2), Key(trialID: 7, attempt: 1)], slots: 2),
                                        from: "a", at: 105)
        XCTAssertEqual(scheduler.workers["a"]?.running, [Key(trialID: 1, attempt: 2)])
        XCTAssertEqual(scheduler.trials[1]?.reattachDeadline, nil)
        XCTAssertEqual(scheduler.trials[2]?.state, .lost, "trial 2 was not among the worker's attempts")
        XCTAssertTrue(actions.contains(.send(.cancel(Cancellation(trialID: 7, attempt: 1,
                                                                   reason: "trial 7 attempt 1 is no longer yours")), to: "a")))
        XCTAssertTrue(stateChanges(actions).contains { $0.trialID == 1 && $0.state == .running && $0.reason == "re-attached" })
        let finished = scheduler.receive(result(1, attempt: 2), from: "a", at: 106)
        XCTAssertEqual(storedResults(finished).map(\.trialID), [1], "the re-attached attempt's result counts")
        XCTAssertEqual(scheduler.trials[1]?.state, .done)
    }

    func testATrialWhoseWorkerDoesNotComeBackIsLostAfterTheGrace() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(reattachGrace: 30))
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", attemptsSoFar: 1,
                                                           runningOn: Scheduler.Reattachment(worker: "a", attempt: 1))], at: 0))
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
        _ = scheduler.handle(.tick(at: 29))
        XCTAssertEqual(scheduler.trials[1]?.state, .running)
        _ = scheduler.handle(.tick(at: 31))
        XCTAssertEqual(scheduler.trials[1]?.state, .lost)
        let actions = scheduler.join("b", at: 32)
        XCTAssertEqual(assignments(actions).map(\.key), [Key(trialID: 1, attempt: 2)])
    }

    private func gangScheduler(workers: Int = 3, minWorkers: Int? = nil, timeout: Double = 10) -> Scheduler {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(gangFormationTimeout: timeout,
                                                                         gradientHubEndpoint: "tcp://head:5556"))
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", workersPerTrial: workers,
                                                           minWorkers: minWorkers),
                                       Scheduler.TrialSpec(id: 2, configJSON: "{}")], at: 0))
        return scheduler
    }

    func testAGangWaitsForAllItsWorkersAndPlacesThemByRank() {
        var scheduler = gangScheduler()
        XCTAssertTrue(assignments(scheduler.join("a", at: 1)).isEmpty)
        XCTAssertTrue(assignments(scheduler.join("b", at: 2)).isEmpty, "a partial gang holds its workers")
        let actions = scheduler.join("c", at: 3)
        let placed = actions.compactMap { action -> (String, GangPlacement)? in
            if case let .send(.assign(assignment), worker) = action, let gang = assignment.gang { (worker, gang) } else { nil }
        }
        XCTAssertEqual(placed.map(\.0), ["a", "b", "c"])
        XCTAssertEqual(placed.map(\.1.rank), [0, 1, 2])
        XCTAssertEqual(Set(placed.map(\.1.gangID)).count, 1)
        XCTAssertEqual(placed.first?.1.hubEndpoint, "tcp://head:5556")
        XCTAssertEqual(stateChanges(actions).first?.worker, "a,b,c")
        XCTAssertEqual(stateChanges(actions).first?.gang, Scheduler.GangStart(size: 3, requested: 3))
    }

    func testAPartialGangIsReleasedAfterTheTimeoutAndOtherTrialsPass() {
        var scheduler = gangScheduler(timeout: 3)
        scheduler.join("a", at: 0)
        XCTAssertTrue(assignments(scheduler.handle(.tick(at: 2))).isEmpty)
        let released = scheduler.handle(.tick(at: 3))
        XCTAssertEqual(assignments(released).map(\.key), [Key(trialID: 2, attempt: 1)], "the waiting trial lets trial 2 pass")
        XCTAssertEqual(scheduler.trials[1]?.state, .queued)
        XCTAssertNil(scheduler.formation)
    }

    func testAGangStartsSmallerAfterTheTimeoutWhenTheExperimentAllows() {
        var scheduler = gangScheduler(workers: 3, minWorkers: 2, timeout: 3)
        scheduler.join("a", at: 0)
        scheduler.join("b", at: 1)
        let actions = scheduler.handle(.tick(at: 3))
        XCTAssertEqual(Set(assignments(actions).map(\.worker)), ["a", "b"])
        XCTAssertEqual(stateChanges(actions).first?.gang?.learningRateScale ?? 0, 2.0 / 3.0, accuracy: 1e-12)
    }

    func testAMemberThatDiesEndsTheGangAttemptAndCancelsTheOthers() {
        var scheduler = gangScheduler(workers: 2)
        scheduler.join("a", at: 0)
        scheduler.join("b", at: 0)
        XCTAssertEqual(scheduler.trials[1]?.members, ["a", "b"])
        _ = scheduler.receive(metric(1, attempt: 1), from: "b", at: 1)
        let beat = scheduler.receive(heartbeat(1), from: "a", at: 5)
        XCTAssertTrue(beat.isEmpty)
        let actions = scheduler.handle(.tick(at: 6.5))
        XCTAssertEqual(scheduler.trials[1]?.state, .lost)
        XCTAssertTrue(actions.contains { action in
            if case .send(.cancel(let cancel), "a") = action { cancel.trialID == 1 } else { false }
        })
        XCTAssertEqual(scheduler.workers["a"]?.running, [], "a's gang slot is free again")
        let lost = stateChanges(actions).first { $0.state == .lost }
        XCTAssertEqual(lost?.retryAfter, 6.5 + 5, "the broken gang waits gangRetryDelay before its next try")
        XCTAssertTrue(lost?.reason?.contains("gang failure 1 in a row, next try in 5 s") == true, "\(stateChanges(actions))")
        XCTAssertEqual(assignments(scheduler.receive(.ready(Ready(credit: 1)), from: "a", at: 7)).map(\.key.trialID), [2],
                       "while the gang trial backs off, the trial behind it passes")
        XCTAssertNil(scheduler.formation, "still backing off")
        _ = scheduler.receive(result(2, attempt: 1), from: "a", at: 12)
        _ = scheduler.receive(.ready(Ready(credit: 1)), from: "a", at: 12)
        XCTAssertEqual(scheduler.formation?.trialID, 1, "the lost gang trial is first in line again and holds a")
        XCTAssertEqual(scheduler.formation?.reserved, ["a"])
    }

    func testAGangThatKeepsFailingWaitsTwiceAsLongEachTimeUpToTheCap() {
        var configuration = Scheduler.Configuration(maxAttempts: 10, gradientHubEndpoint: "tcp://hub:1")
        configuration.gangRetryDelay = 2
        configuration.gangRetryDelayCap = 10
        var scheduler = Scheduler(configuration: configuration)
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", workersPerTrial: 2)], at: 0))
        var time = 0.0
        var delays: [Double] = []
        for round in 0..<5 {
            scheduler.join("a\(round)", at: time)
            scheduler.join("b\(round)", at: time)
            XCTAssertEqual(scheduler.trials[1]?.state, .running, "round \(round)")
            let failure = FailureReport(trialID: 1, attempt: round + 1, error: "the ring broke", retryable: true)
            let actions = scheduler.receive(.fail(failure), from: "a\(round)", at: time)
            let change = stateChanges(actions).first { $0.state == .queued }
            delays.append((change?.retryAfter ?? time) - time)
            time += delays.last! + 0.5
            _ = scheduler.handle(.tick(at: time))
        }
        XCTAssertEqual(delays, [2, 4, 8, 10, 10])
    }

    func testAGangTrialFailsClearlyWithoutAGradientHub() {
        var scheduler = Scheduler()
        let actions = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", workersPerTrial: 2)], at: 0))
        XCTAssertEqual(scheduler.trials[1]?.state, .failed)
        XCTAssertTrue(stateChanges(actions).last?.reason?.contains("needs a gradient hub") == true)
    }

    func testOnlyRankZeroReportsForTheGang() {
        var scheduler = gangScheduler(workers: 2)
        scheduler.join("a", at: 0)
        scheduler.join("b", at: 0)
        XCTAssertTrue(scheduler.receive(metric(1, attempt: 1), from: "b", at: 1).isEmpty, "rank 1's METRIC is ignored")
        XCTAssertEqual(scheduler.receive(metric(1, attempt: 1), from: "a", at: 1).count, 1)
        _ = scheduler.receive(result(1, attempt: 1), from: "b", at: 2)
        XCTAssertEqual(scheduler.trials[1]?.state, .running, "rank 1 finishing does not finish the trial")
        XCTAssertEqual(scheduler.workers["b"]?.running.contains(Key(trialID: 1, attempt: 1)), false)
        let done = scheduler.receive(result(1, attempt: 1), from: "a", at: 2)
        XCTAssertEqual(storedResults(done).count, 1)
        XCTAssertEqual(scheduler.trials[1]?.state, .done)
    }

    func testAMemberFinishingAfterRankZeroOnlyFreesItsSlot() {
        var scheduler = gangScheduler(workers: 2)
        scheduler.join("a", at: 0)
        scheduler.join("b", at: 0)
        XCTAssertEqual(storedResults(scheduler.receive(result(1, attempt: 1), from: "a", at: 2)).count, 1)
        let late = scheduler.receive(result(1, attempt: 1), from: "b", at: 2)
        XCTAssertFalse(late.contains { if case .discarded = $0 { true } else { false } }, "\(late)")
        XCTAssertTrue(storedResults(late).isEmpty)
        XCTAssertEqual(scheduler.workers["b"]?.running, [])
        let repeated = scheduler.receive(result(1, attempt: 1), from: "b", at: 3)
        XCTAssertTrue(repeated.contains { if case .discarded = $0 { true } else { false } }, "a true duplicate still is")
    }
}
