@testable import FerdCluster
import XCTest

/// The fold-aware stopping rules as pure logic, with hand-made learning curves.
final class EarlyStoppingTests: XCTestCase {
    private typealias Slot = EarlyStopping.Slot

    /// Feeds whole curves epoch by epoch, all points and folds in step; returns every decision.
    private func run(_ rule: EarlyStopping, _ curves: [Slot: [Double]]) -> (EarlyStopping, [EarlyStopping.Decision]) {
        var rule = rule
        var decisions: [EarlyStopping.Decision] = []
        let epochs = curves.values.map(\.count).max() ?? 0
        for epoch in 1...epochs {
            for slot in curves.keys.sorted(by: { ($0.point, $0.fold) < ($1.point, $1.fold) }) {
                guard let curve = curves[slot], curve.count >= epoch else { continue }
                decisions += rule.record(slot, epoch: epoch, metric: curve[epoch - 1])
            }
        }
        return (rule, decisions)
    }

    private func median(minEpochs: Int = 2, grace: Int = 2) -> EarlyStopping {
        EarlyStopping(configuration: .init(rule: .median, minEpochs: minEpochs, grace: grace))
    }

    func testAPointWorseOnEveryFoldIsStoppedAtTheFirstDecisionEpoch() {
        let curves: [Slot: [Double]] = [
            Slot(point: 1, fold: 1): [0.3, 0.4, 0.5], Slot(point: 1, fold: 2): [0.3, 0.4, 0.5],
            Slot(point: 2, fold: 1): [0.3, 0.35, 0.45], Slot(point: 2, fold: 2): [0.3, 0.35, 0.45],
            Slot(point: 3, fold: 1): [0.1, 0.15, 0.2], Slot(point: 3, fold: 2): [0.1, 0.15, 0.2],
        ]
        let (_, decisions) = run(median(), curves)
        XCTAssertEqual(decisions.map(\.point), [3])
        XCTAssertEqual(decisions.first?.epoch, 2, "not before min_epochs")
        XCTAssertTrue(decisions.first?.reason.contains("median rule at epoch 2") == true, "\(decisions)")
    }

    func testAGoodPointWithOneHardFoldIsNotStopped() {
        // Fold 2 is hard for everyone; point 1 is best on each fold, though its fold-2 value is below the others' fold-1
        // values. A rule comparing folds with each other would stop it.
        let curves: [Slot: [Double]] = [
            Slot(point: 1, fold: 1): [0.6, 0.7], Slot(point: 1, fold: 2): [0.25, 0.3],
            Slot(point: 2, fold: 1): [0.5, 0.55], Slot(point: 2, fold: 2): [0.2, 0.22],
            Slot(point: 3, fold: 1): [0.45, 0.5], Slot(point: 3, fold: 2): [0.15, 0.2],
        ]
        let (rule, decisions) = run(median(), curves)
        XCTAssertEqual(decisions.map(\.point), [3])
        XCTAssertEqual(rule.score(of: 1, at: 2)?.value, 1)
    }

    func testTiesCountHalfAndKeepThePointsRunning() {
        let curves: [Slot: [Double]] = Dictionary(uniqueKeysWithValues: (1...4).map { (Slot(point: $0, fold: 1), [0.3, 0.3, 0.3]) })
        let (rule, decisions) = run(median(), curves)
        XCTAssertTrue(decisions.isEmpty, "equal curves: nobody is below the median")
        XCTAssertEqual(rule.score(of: 2, at: 3)?.value, 0.5)
    }

    func testTheBestSoFarIsComparedSoADipDoesNotStopAPoint() {
        let curves: [Slot: [Double]] = [
            Slot(point: 1, fold: 1): [0.5, 0.2, 0.3], Slot(point: 2, fold: 1): [0.3, 0.35, 0.4],
            Slot(point: 3, fold: 1): [0.2, 0.25, 0.3],
        ]
        let (_, decisions) = run(median(), curves)
        XCTAssertEqual(decisions.map(\.point), [3])
    }

    func testFoldsWithoutEnoughComparatorsWaitAndFoldsFinishingAtDifferentTimesAreJudgedAsTheyArrive() {
        var rule = median(grace: 2)
        // Point 9 runs ahead on fold 1 alone; nobody else is there yet: no decision.
        for epoch in 1...3 { XCTAssertTrue(rule.record(Slot(point: 9, fold: 1), epoch: epoch, metric: 0.1).isEmpty) }
        XCTAssertNil(rule.score(of: 9, at: 3))
        // Points 1 and 2 reach epoch 2 on fold 1 later; at point 2's epoch 2, point 9 has two comparators, but a
        // point is only judged on its own metrics' arrival.
        for point in [1, 2] {
            for epoch in 1...2 { _ = rule.record(Slot(point: point, fold: 1), epoch: epoch, metric: 0.4) }
        }
        XCTAssertNil(rule.stopped[9])
        XCTAssertEqual(rule.score(of: 9, at: 2)?.value, 0)
        // Its next metric (fold 2, epoch 2; nobody there) decides with the fold that has comparators at epoch 2.
        _ = rule.record(Slot(point: 9, fold: 2), epoch: 1, metric: 0.9)
        let decisions = rule.record(Slot(point: 9, fold: 2), epoch: 2, metric: 0.9)
        XCTAssertEqual(decisions.map(\.point), [9], "fold 2 has no comparators; fold 1 at epoch 2 decides")
    }

    func testASHAStopsOnlyAtRungsAndKeepsTheTopThird() {
        var rule = EarlyStopping(configuration: .init(rule: .asha, minEpochs: 1, grace: 2, reductionFactor: 3))
        var decisions: [EarlyStopping.Decision] = []
        // Six points on one fold; rungs at epochs 1, 3, 9.
        let finals: [Double] = [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
        for epoch in 1...4 {
            for (index, final) in finals.enumerated() where rule.stopped[index] == nil {
                decisions += rule.record(Slot(point: index, fold: 1), epoch: epoch, metric: final * Double(epoch) / 4)
            }
        }
        XCTAssertEqual(Set(decisions.filter { $0.epoch == 1 }.map(\.point)), [2, 3, 4, 5],
                       "at rung 1 only the top third (2 of 6) continue")
        XCTAssertFalse(decisions.contains { $0.epoch == 2 || $0.epoch == 4 }, "no decisions between rungs")
        XCTAssertTrue(decisions.allSatisfy { $0.reason.contains("asha rule") })
    }

    func testADecisionIsFinalAndSeedingRestoresItWithoutNewDecisions() {
        var rule = median()
        rule.seed(Slot(point: 1, fold: 1), curve: [0.5, 0.6])
        rule.seed(Slot(point: 2, fold: 1), curve: [0.5, 0.6])
        rule.seed(Slot(point: 3, fold: 1), curve: [0.1, 0.1])
        rule.restore(EarlyStopping.Decision(point: 3, epoch: 2, reason: "stored"))
        rule.seed(Slot(point: 4, fold: 1), curve: [0.1, 0.1])
        XCTAssertEqual(rule.stopped[3]?.reason, "stored")
        XCTAssertNil(rule.stopped[4], "seeding replays curves without deciding")
        XCTAssertEqual(rule.record(Slot(point: 3, fold: 1), epoch: 3, metric: 0.9), [], "a stop is final")
        _ = rule.record(Slot(point: 1, fold: 1), epoch: 3, metric: 0.7)
        XCTAssertEqual(rule.record(Slot(point: 4, fold: 1), epoch: 3, metric: 0.1).map(\.point), [4],
                       "the next metric of a seeded point is judged")
    }

    func testARetriedAttemptReplacesTheEpochsItRepeats() {
        var rule = median()
        _ = rule.record(Slot(point: 1, fold: 1), epoch: 1, metric: 0.9)
        _ = rule.record(Slot(point: 1, fold: 1), epoch: 2, metric: 0.9)
        _ = rule.record(Slot(point: 1, fold: 1), epoch: 2, metric: 0.2)
        for point in [2, 3] {
            _ = rule.record(Slot(point: point, fold: 1), epoch: 1, metric: 0.5)
            _ = rule.record(Slot(point: point, fold: 1), epoch: 2, metric: 0.5)
        }
        XCTAssertEqual(rule.score(of: 1, at: 2)?.value, 1, "the best so far still counts epoch 1 of the new attempt's curve")
    }
}
