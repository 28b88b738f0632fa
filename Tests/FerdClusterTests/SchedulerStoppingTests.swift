import XCTest
@testable import FerdCluster

/// Early stopping, budgets, concurrency limits and priorities inside the pure scheduler.
final class SchedulerStoppingTests: XCTestCase {
    private typealias Slot = EarlyStopping.Slot

    /// Grid points 1…3 × folds 1…2 as trials 10·point + fold; a gang of `gang` workers per trial.
    private func specs(points: ClosedRange<Int> = 1...3, folds: ClosedRange<Int> = 1...2, gang: Int = 1) -> [Scheduler.TrialSpec] {
        points.flatMap { point in
            folds.map { fold in
                Scheduler.TrialSpec(id: 10 * point + fold, configJSON: "{}", workersPerTrial: gang,
                                    slot: Slot(point: point, fold: fold))
            }
        }
    }

    private func uarMetric(_ trialID: Int, attempt: Int = 1, epoch: Int, uar: Double, seconds: Double = 10) -> Message {
        .metric(MetricReport(trialID: trialID, attempt: attempt, epoch: epoch, trainLoss: 1, uar: uar, war: uar,
                             learningRate: 1e-3, seconds: seconds, confusion: Fixtures.result.confusion))
    }

    private func medianScheduler(gang: Int = 1, hub: String? = nil) -> Scheduler {
        Scheduler(configuration: Scheduler.Configuration(gradientHubEndpoint: hub,
                                                         stopping: .init(rule: .median, minEpochs: 1, grace: 2)))
    }

    func testAStoppedPointsWaitingFoldsNeverStartAndItsRunningFoldIsCancelled() {
        var scheduler = medianScheduler()
        _ = scheduler.handle(.enqueue(specs(folds: 1...1), at: 0))
        for worker in ["a", "b", "c"] { scheduler.join(worker) }
        _ = scheduler.handle(.enqueue(specs(folds: 2...2), at: 0))
        // Fold 1 of each point runs: 11 on a, 21 on b, 31 on c; fold 2 of each waits.
        XCTAssertEqual(Set(scheduler.trials(in: .running).map(\.spec.id)), [11, 21, 31])
        _ = scheduler.receive(uarMetric(11, epoch: 1, uar: 0.5), from: "a", at: 1)
        _ = scheduler.receive(uarMetric(21, epoch: 1, uar: 0.4), from: "b", at: 1)
        let actions = scheduler.receive(uarMetric(31, epoch: 1, uar: 0.1), from: "c", at: 1)
        let stopped = stateChanges(actions).filter { $0.state == .stopped }
        XCTAssertEqual(stopped.map(\.trialID), [31, 32], "the running fold and the waiting one")
        XCTAssertEqual(stopped.first?.stop?.epoch, 1)
        XCTAssertTrue(stopped.first?.stop?.reason.contains("median") == true)
        XCTAssertTrue(actions.contains { action in
            if case let .send(.cancel(cancellation), "c") = action { return cancellation.trialID == 31 }
            return false
        }, "\(actions)")
        XCTAssertFalse(scheduler.pending.contains(32))
        XCTAssertEqual(scheduler.workers["c"]?.running, [], "c's slot is free again")
        // c takes the next waiting trial (a fold of a point still running), not 32.
        XCTAssertEqual(assignments(scheduler.receive(.ready(Ready(credit: 1)), from: "c", at: 2)).map(\.key.trialID), [12])
        // A metric the stopped trial sent before it saw CANCEL is discarded.
        let late = scheduler.receive(uarMetric(31, epoch: 2, uar: 0.9), from: "c", at: 2)
        XCTAssertNotNil(late.lazy.compactMap(\.discardReason).first)
        XCTAssertEqual(scheduler.trials[31]?.state, .stopped)
    }

    func testAPointStoppedWhileOneOfItsFoldsRunsInAGangCancelsEveryMember() {
        var scheduler = medianScheduler(hub: "tcp://hub:1")
        _ = scheduler.handle(.enqueue(specs(points: 1...3, folds: 1...1, gang: 2), at: 0))
        for worker in ["a", "b", "c", "d", "e", "f"] { scheduler.join(worker) }
        let gang = scheduler.trials[31]!.members
        XCTAssertEqual(gang.count, 2)
        _ = scheduler.receive(uarMetric(11, epoch: 1, uar: 0.6), from: scheduler.trials[11]!.members[0], at: 1)
        _ = scheduler.receive(uarMetric(21, epoch: 1, uar: 0.5), from: scheduler.trials[21]!.members[0], at: 1)
        let actions = scheduler.receive(uarMetric(31, epoch: 1, uar: 0.2), from: gang[0], at: 1)
        let cancelled = actions.compactMap { action -> String? in
            if case let .send(.cancel(cancellation), worker) = action, cancellation.trialID == 31 { return worker }
            return nil
        }
        XCTAssertEqual(Set(cancelled), Set(gang), "every member of the gang is told")
        XCTAssertEqual(scheduler.trials[31]?.state, .stopped)
        for member in gang { XCTAssertEqual(scheduler.workers[member]?.running, []) }
    }

    func testARestartedCoordinatorKeepsTheDecisionAndJudgesFromTheStoredCurves() {
        // The first coordinator stopped point 3 and stored it; it died before its other folds were handed out.
        var scheduler = medianScheduler()
        let restore = Scheduler.Event.restore(
            curves: [Slot(point: 1, fold: 1): [0.5], Slot(point: 2, fold: 1): [0.05], Slot(point: 3, fold: 1): [0.1]],
            decisions: [EarlyStopping.Decision(point: 3, epoch: 1, reason: "stored")],
            spent: Scheduler.Spending(epochs: 3, trialSeconds: 30))
        _ = scheduler.handle(restore)
        // The launcher enqueues only what is not DONE or STOPPED: points 1 and 2, fold 2 (fold 1 of each DONE).
        _ = scheduler.handle(.enqueue(specs(points: 1...2, folds: 2...2), at: 0))
        XCTAssertEqual(scheduler.stopping?.stopped[3]?.reason, "stored")
        XCTAssertEqual(scheduler.spent, Scheduler.Spending(epochs: 3, trialSeconds: 30))
        scheduler.join("a", slots: 2)
        _ = scheduler.receive(uarMetric(12, epoch: 1, uar: 0.6), from: "a", at: 1)
        let actions = scheduler.receive(uarMetric(22, epoch: 1, uar: 0.05), from: "a", at: 1)
        XCTAssertEqual(stateChanges(actions).filter { $0.state == .stopped }.map(\.trialID), [22],
                       "point 2 is judged against the stored fold-1 curves and the new fold-2 ones")
    }

    func testWhenTheEpochBudgetIsSpentRunningTrialsFinishAndNoneStarts() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(budget: .epochs(2)))
        _ = scheduler.handle(.enqueue(specs(points: 1...2, folds: 1...1), at: 0))
        scheduler.join("a")
        _ = scheduler.receive(uarMetric(11, epoch: 1, uar: 0.5), from: "a", at: 1)
        let spent = scheduler.receive(uarMetric(11, epoch: 2, uar: 0.5), from: "a", at: 2)
        XCTAssertTrue(spent.contains { if case let .budgetSpent(text) = $0 { text.contains("2 epochs") } else { false } },
                      "\(spent)")
        XCTAssertFalse(scheduler.isFinished, "trial 11 still runs")
        let finished = scheduler.receive(result(11, attempt: 1), from: "a", at: 3)
        XCTAssertTrue(assignments(finished).isEmpty, "trial 21 does not start")
        XCTAssertEqual(scheduler.trials[21]?.state, .queued)
        XCTAssertTrue(scheduler.isFinished, "nothing runs and nothing may start")
        XCTAssertFalse(scheduler.receive(heartbeat(1), from: "a", at: 4).contains {
            if case .budgetSpent = $0 { true } else { false }
        }, "said once")
    }

    func testTheWallClockBudgetCountsFromTheExperimentsStart() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(budget: .wallSeconds(3600, startedAt: 1_000)))
        _ = scheduler.handle(.enqueue(specs(points: 1...1, folds: 1...1), at: 4_700))
        scheduler.join("a", at: 4_700)
        XCTAssertTrue(scheduler.budgetSpent)
        XCTAssertEqual(scheduler.trials[11]?.state, .queued)
    }

    func testMaxConcurrentLimitsTheTrialsRunningAtOnce() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(maxConcurrent: 2))
        _ = scheduler.handle(.enqueue(specs(), at: 0))
        scheduler.join("a", slots: 4)
        XCTAssertEqual(scheduler.trials(in: .running).count, 2)
        _ = scheduler.receive(result(11, attempt: 1), from: "a", at: 1)
        XCTAssertEqual(scheduler.trials(in: .running).count, 2, "one finished, one more started")
    }

    func testFoldsOfPointsUnderWayGoBeforeNewPoints() {
        var scheduler = medianScheduler()
        _ = scheduler.handle(.enqueue(specs(points: 1...4, folds: 1...2), at: 0))
        scheduler.join("a")
        scheduler.join("b")
        scheduler.join("c")
        // Fold 1 of points 1, 2, 3 runs (file order).
        XCTAssertEqual(Set(scheduler.trials(in: .running).map(\.spec.id)), [11, 12, 21])
    }
}
