import FerdRandom
import XCTest
@testable import FerdCluster

/// Stopping rules compared on many replayed sweeps in seconds: curves from a model with a known good region
/// (each grid point has a true quality), folds of different difficulty and noise.
final class SweepReplayTests: XCTestCase {
    /// `points` grid points × `folds` folds × `epochs` epochs. A point's quality is spread over 0.35…0.7; fold 2 is
    /// 0.15 harder for every point; curves rise towards the quality with noise of `noise` per epoch.
    private func sweep(seed: UInt64, points: Int = 12, folds: Int = 3, epochs: Int = 12, noise: Double = 0.02)
        -> (replay: SweepReplay, quality: [Int: Double]) {
        var random = SplitMix64(seed: seed)
        var quality: [Int: Double] = [:]
        for point in 1...points { quality[point] = 0.35 + 0.35 * Double.random(in: 0...1, using: &random) }
        var curves: [SweepReplay.Curve] = []
        for point in 1...points {
            for fold in 1...folds {
                let offset = fold == 2 ? -0.15 : 0.02 * Double(fold)
                let metrics = (1...epochs).map { epoch in
                    quality[point]! + offset - 0.25 * exp(-Double(epoch) / 3) + noise * Double.random(in: -1...1, using: &random)
                }
                let seconds = (0..<epochs).map { _ in Double.random(in: 50...70, using: &random) }
                curves.append(SweepReplay.Curve(slot: .init(point: point, fold: fold), metrics: metrics, seconds: seconds))
            }
        }
        return (SweepReplay(curves: curves, workers: 3), quality)
    }

    func testWithoutARuleEveryTrialRunsToItsEnd() {
        let outcome = sweep(seed: 1).replay.run(stopping: nil)
        XCTAssertEqual(outcome.epochs, 12 * 3 * 12)
        XCTAssertEqual(outcome.finished.count, 12)
        XCTAssertTrue(outcome.stopped.isEmpty)
    }

    /// Measured on 40 sweeps (the thresholds leave a margin under what was measured, docs/SWEEPS.md): the median rule
    /// saves about half the epochs and keeps the full sweep's best point in 39 of 40; ASHA (η = 3) saves more and
    /// keeps it less often.
    func testTheRulesSpendFarLessAndMostlyKeepTheBestPointOnManySweeps() {
        var savings: [EarlyStopping.Rule: [Double]] = [:]
        var sameBest: [EarlyStopping.Rule: Int] = [:]
        let sweeps = 40
        for seed in 1...UInt64(sweeps) {
            let replay = sweep(seed: seed).replay
            let full = replay.run(stopping: nil)
            for rule in EarlyStopping.Rule.allCases {
                let outcome = replay.run(stopping: .init(rule: rule, minEpochs: 2, grace: 2, reductionFactor: 3))
                savings[rule, default: []].append(1 - Double(outcome.epochs) / Double(full.epochs))
                if outcome.best == full.best { sameBest[rule, default: 0] += 1 }
                XCTAssertLessThan(outcome.wallSeconds, full.wallSeconds)
            }
        }
        let median = savings[.median]!.reduce(0, +) / Double(sweeps), asha = savings[.asha]!.reduce(0, +) / Double(sweeps)
        print(String(format: "replay: median saves %.1f%% of the epochs, keeps the best in %d/%d; asha saves %.1f%%, keeps it in %d/%d",
                     median * 100, sameBest[.median] ?? 0, sweeps, asha * 100, sameBest[.asha] ?? 0, sweeps))
        XCTAssertGreaterThan(median, 0.35)
        XCTAssertGreaterThan(asha, median)
        XCTAssertGreaterThanOrEqual(sameBest[.median] ?? 0, 36)
        XCTAssertGreaterThanOrEqual(sameBest[.asha] ?? 0, 28)
    }

    func testABudgetEndsTheReplayEarly() {
        let outcome = sweep(seed: 3).replay.run(stopping: nil, budget: .epochs(100))
        XCTAssertLessThan(outcome.epochs, 100 + 3 * 12, "running trials finish, nothing new starts")
        XCTAssertLessThan(outcome.finished.count, 12)
    }
}
