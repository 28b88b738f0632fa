import FerdLeaderboard
import FerdTraining
import Foundation
import Logging

/// Builds the fixture leaderboard the golden tests render: a GCA+IAL grid (λ × r, plus SE and no attention)
/// over three folds with deterministic, DFEW-shaped confusion matrices; one point has a fold still running
/// and one has two folds queued. A second experiment has trials but none finished.
enum ReportFixture {
    static let logger = Logger(label: "ferd.report.tests") { _ in SwiftLogNoOpLogHandler() }
    static let time = Date(timeIntervalSince1970: 1_760_000_000)
    /// Test clips per class in one fold (DFEW's proportions, scaled down).
    static let support = [49, 38, 53, 44, 29, 3, 18]
    static let baseRecall = [0.86, 0.64, 0.68, 0.73, 0.58, 0.0, 0.24]
    static let progress = [0.45, 0.68, 0.82, 0.9, 0.95, 0.92]

    /// (params JSON, quality offset, folds DONE, fold still running).
    static let points: [(String, Double, Int, Bool)] = [
        (#"{"attention":"gca","lambda":0,"reduction":8}"#, -0.01, 1, false),
        (#"{"attention":"gca","lambda":0,"reduction":16}"#, 0.0, 3, false),
        (#"{"attention":"gca","lambda":0.05,"reduction":8}"#, 0.01, 2, true),
        (#"{"attention":"gca","lambda":0.05,"reduction":16}"#, 0.02, 3, false),
        (#"{"attention":"gca","lambda":0.1,"reduction":8}"#, 0.03, 3, false),
        (#"{"attention":"gca","lambda":0.1,"reduction":16}"#, 0.045, 3, false),
        (#"{"attention":"se","lambda":0.1,"reduction":16}"#, -0.02, 3, false),
        (#"{"attention":"none","lambda":0.1,"reduction":16}"#, -0.05, 3, false),
    ]

    /// Creates the fixture database at `path`.
    static func build(at path: String) throws {
        let leaderboard = try Leaderboard(path: path, logger: logger)
        let experiment = try leaderboard.findOrCreateExperiment(name: "dfew-gca-ial-grid", contentHash: "fixture-1",
                                                                config: "{}", at: time).experiment
        let plans = points.flatMap { params, _, _, _ in
            (1...3).map { TrialPlan(paramsJSON: params, fold: $0, seed: UInt64($0) << 8) }
        }
        let trials = try leaderboard.insertTrials(experimentID: experiment.id, plans: plans, at: time)
        for (index, point) in points.enumerated() {
            for fold in 1...3 {
                let trial = trials[index * 3 + fold - 1]
                if fold <= point.2 {
                    try train(trial, leaderboard, point: index, quality: point.1, fold: fold, epochs: progress.count,
                              finish: true)
                } else if fold == point.2 + 1, point.3 {
                    try leaderboard.applyStateChanges([TrialStateChange(trialID: trial, state: .running, attempts: 1,
                                                                        worker: "w1")], at: time)
                    try train(trial, leaderboard, point: index, quality: point.1, fold: fold, epochs: 3, finish: false)
                }
            }
        }
        let idle = try leaderboard.findOrCreateExperiment(name: "not-started", contentHash: "fixture-2", config: "{}",
                                                          at: time).experiment
        _ = try leaderboard.insertTrials(experimentID: idle.id, plans: (1...2).map {
            TrialPlan(paramsJSON: #"{"lambda":0.1}"#, fold: $0, seed: 0)
        }, at: time)
    }

    private static func train(_ trial: Int, _ leaderboard: Leaderboard, point: Int, quality: Double, fold: Int,
                              epochs: Int, finish: Bool) throws {
        var matrices: [ConfusionMatrix] = []
        for epoch in 1...epochs {
            let matrix = confusion(point: point, quality: quality, fold: fold, epoch: epoch)
            matrices.append(matrix)
            let loss = 1.6 * pow(0.7, Double(epoch)) + 0.35 - quality + Double(fold) * 0.01
            try leaderboard.recordEpochMetric(EpochMetricRecord(
                trialID: trial, attempt: 1, epoch: epoch, trainLoss: loss, uar: matrix.unweightedAverageRecall,
                war: matrix.weightedAverageRecall, learningRate: 0.001, seconds: 60, confusion: matrix.counts))
        }
        guard finish else { return }
        let best = matrices.indices.max { matrices[$0].weightedAverageRecall < matrices[$1].weightedAverageRecall } ?? 0
        let matrix = matrices[best]
        try leaderboard.recordResult(ResultRecord(
            trialID: trial, attempt: 1, bestEpoch: best + 1, uar: matrix.unweightedAverageRecall,
            war: matrix.weightedAverageRecall, perClassRecall: matrix.recall.map { $0 ?? 0 }, confusion: matrix.counts,
            checkpointPath: nil, digest: String(repeating: "0", count: 64)), at: time)
    }

    /// A deterministic confusion matrix: recall grows with the epoch and the point's quality; Disgust is
    /// never recognised (as on DFEW); the errors go mostly to Neutral.
    static func confusion(point: Int, quality: Double, fold: Int, epoch: Int) -> ConfusionMatrix {
        var counts = Array(repeating: Array(repeating: 0, count: 7), count: 7)
        for truth in 0..<7 {
            let jitter = Double((fold * 31 + truth * 17 + epoch * 7 + point * 13) % 11 - 5) * 0.008
            let recall = truth == 5 ? 0 : min(max(baseRecall[truth] * progress[epoch - 1] + quality + jitter, 0), 1)
            let correct = Int((recall * Double(support[truth])).rounded())
            let wrong = support[truth] - correct
            let main = truth == 2 ? 1 : 2, second = truth == 0 ? 3 : 0
            counts[truth][truth] = correct
            counts[truth][main] += (wrong * 3 + 2) / 5
            counts[truth][second] += wrong - (wrong * 3 + 2) / 5
        }
        return ConfusionMatrix(counts: counts)!
    }
}
