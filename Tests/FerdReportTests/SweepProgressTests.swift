import FerdLeaderboard
import FerdReport
import Foundation
import XCTest

/// The sweep's progress from leaderboard records: epochs done and planned, the pace, the time left, the running
/// trials' lines.
final class SweepProgressTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)
    private let points = [GridPoint(id: 1, experimentID: 1, paramsJSON: #"{"epochs":10,"lambda":0,"lr":0.01}"#),
                          GridPoint(id: 2, experimentID: 1, paramsJSON: #"{"epochs":10,"lambda":0.1,"lr":0.01}"#)]

    private func trial(_ id: Int, point: Int, _ state: TrialState, attempts: Int = 1, worker: String? = nil) -> TrialRecord {
        TrialRecord(id: id, experimentID: 1, gridPointID: point, fold: id, seed: 1, state: state, attempts: attempts,
                    worker: worker, updated: now)
    }

    private func epoch(_ trial: Int, attempt: Int = 1, _ epoch: Int, seconds: Double = 6, uar: Double = 0.4) -> EpochMetricRecord {
        EpochMetricRecord(trialID: trial, attempt: attempt, epoch: epoch, trainLoss: 1.5, uar: uar, war: uar,
                          learningRate: 0.01, seconds: seconds)
    }

    func testBeforeTheFirstEpochThereIsNoPaceAndNoTimeLeft() {
        let progress = SweepProgress(trials: [trial(1, point: 1, .running, worker: "w1"), trial(2, point: 2, .queued)],
                                     gridPoints: points, epochMetrics: [])
        XCTAssertEqual(progress.epochsTotal, 20)
        XCTAssertEqual(progress.epochsDone, 0)
        XCTAssertNil(progress.secondsPerEpoch)
        XCTAssertNil(progress.remainingSeconds, "no ETA of 0 s before anything was measured")
        XCTAssertEqual(progress.runningTrials.map(SweepProgress.describe),
                       ["trial 1 (fold 1, lambda=0) on w1: started, no epoch yet"])
    }

    func testEpochsOfTheCurrentAttemptCountAndThePaceIsTheMedian() {
        let trials = [trial(1, point: 1, .done), trial(2, point: 2, .running, attempts: 2, worker: "w2"),
                      trial(3, point: 1, .queued), trial(4, point: 2, .failed)]
        let metrics = (1...10).map { epoch(1, $0, seconds: $0 == 1 ? 60 : 5) }
            + [epoch(2, attempt: 1, 1), epoch(2, attempt: 1, 2), epoch(2, attempt: 1, 3),
               epoch(2, attempt: 2, 3, uar: 0.5), epoch(2, attempt: 2, 4, uar: 0.55)]
        let progress = SweepProgress(trials: trials, gridPoints: points, epochMetrics: metrics)
        XCTAssertEqual(progress.epochsTotal, 30, "the failed trial's epochs are not planned any more")
        XCTAssertEqual(progress.epochsDone, 10 + 4, "the done trial in full, the resumed one up to its epoch 4")
        XCTAssertEqual(progress.secondsPerEpoch, 5, "the median ignores the slow first epoch")
        XCTAssertEqual(progress.remainingSeconds, 16 * 5, "16 epochs left, one trial running")
        XCTAssertEqual(progress.trialSummary, "trials 1/4 done, 1 running, 1 waiting, 1 failed")
        XCTAssertEqual(progress.runningTrials.map(SweepProgress.describe),
                       ["trial 2 (fold 2, lambda=0.1) on w2: epoch 4/10, loss 1.500, UAR 55.0%"])
    }

    func testTrialsRunningAtOnceShareTheTimeLeft() {
        let trials = [trial(1, point: 1, .running, worker: "a"), trial(2, point: 2, .running, worker: "b")]
        let progress = SweepProgress(trials: trials, gridPoints: points, epochMetrics: [epoch(1, 1), epoch(2, 1)])
        XCTAssertEqual(progress.remainingSeconds, 18 * 6 / 2)
    }
}
