import FerdCluster
import FerdLeaderboard
import Foundation
import XCTest
@testable import FerdRuntime

/// `ferd replay`'s comparison of stopping rules on a stored sweep.
final class SweepComparisonTests: XCTestCase {
    func testSpearmanOfIdenticalReversedAndSwappedOrders() {
        XCTAssertEqual(SweepComparison.spearman([1, 2, 3, 4], [1, 2, 3, 4]), 1)
        XCTAssertEqual(SweepComparison.spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1)
        XCTAssertEqual(SweepComparison.spearman([1, 2, 3, 4], [2, 1, 3, 4]), 0.8, accuracy: 1e-12)
    }

    func testAStoredSweepIsReplayedInFullAndUnderEachRule() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let points = (1...4).map { GridPoint(id: $0, experimentID: 1, paramsJSON: #"{"lr":\#($0)}"#) }
        var trials: [TrialRecord] = []
        var metrics: [EpochMetricRecord] = []
        for point in 1...4 {
            for fold in 1...2 {
                let id = 10 * point + fold
                trials.append(TrialRecord(id: id, experimentID: 1, gridPointID: point, fold: fold, seed: 0, state: .done,
                                          attempts: 2, worker: nil, updated: now))
                // A first attempt that died after one epoch, then the attempt that finished.
                metrics.append(EpochMetricRecord(trialID: id, attempt: 1, epoch: 1, trainLoss: 2, uar: 0.9, war: 0.9,
                                                 learningRate: 0.01, seconds: 5))
                for epoch in 1...6 {
                    let uar = 0.1 * Double(5 - point) + 0.02 * Double(epoch) - (fold == 2 ? 0.05 : 0)
                    metrics.append(EpochMetricRecord(trialID: id, attempt: 2, epoch: epoch, trainLoss: 1, uar: uar, war: uar,
                                                     learningRate: 0.01, seconds: 10))
                }
            }
        }
        let report = ExperimentReport(experiment: Experiment(id: 1, name: "s", contentHash: "h", config: "", created: now),
                                      gridPoints: points, trials: trials, results: [], epochMetrics: metrics)
        let comparison = try SweepComparison(report, workers: 2, rules: [("median", .init(rule: .median, minEpochs: 2, grace: 2))])
        XCTAssertEqual(comparison.points, 4)
        XCTAssertEqual(comparison.trials, 8)
        let full = comparison.rows[0], median = comparison.rows[1]
        XCTAssertEqual(full.epochs, 48, "the last attempt of each trial, 6 epochs")
        XCTAssertEqual(full.wallSeconds, 48 * 10 / 2)
        XCTAssertEqual(comparison.best, 1)
        XCTAssertEqual(full.rankCorrelation, 1)
        XCTAssertLessThan(median.epochs, full.epochs)
        XCTAssertEqual(median.sameBest, 1)
        XCTAssertGreaterThan(median.stoppedPoints, 0)
        XCTAssertGreaterThan(median.rankCorrelation, 0.5)

        let shuffled = try SweepComparison(report, workers: 2, rules: [("median", .init(rule: .median, minEpochs: 2, grace: 2))],
                                           orders: 10, seed: 3)
        XCTAssertEqual(shuffled.orders, 10)
        XCTAssertEqual(shuffled.rows[0].epochs, 48, "the full sweep spends the same in every order")
        XCTAssertLessThan(shuffled.rows[1].epochs, 48, "the rule saves epochs on average over the orders")
        XCTAssertGreaterThanOrEqual(shuffled.rows[1].sameBest, 0.8)
    }
}
