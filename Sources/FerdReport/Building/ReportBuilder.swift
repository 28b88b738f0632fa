import FerdLeaderboard
import FerdTraining

/// Builds `ReportData` from an experiment's leaderboard records: scores every finished fold at its
/// selected epoch, aggregates grid points and derives the pivot and ablation views.
public enum ReportBuilder {
    public static func build(_ records: ExperimentReport, options: ReportOptions = ReportOptions()) throws -> ReportData {
        let epochs = Dictionary(grouping: records.epochMetrics) { TrialAttempt(trial: $0.trialID, attempt: $0.attempt) }
        let results = Dictionary(records.results.map { ($0.trialID, $0) }, uniquingKeysWith: { first, _ in first })
        let trialsByPoint = Dictionary(grouping: records.trials, by: \.gridPointID)
        var warnings: [String] = []
        let summaries = records.gridPoints.map { point in
            let trials = (trialsByPoint[point.id] ?? []).sorted { ($0.fold, $0.seed) < ($1.fold, $1.seed) }
            let folds = trials.compactMap { trial -> FoldScore? in
                guard trial.state == .done else { return nil }
                guard let result = results[trial.id] else {
                    warnings.append("trial \(trial.id) is DONE but has no stored result; left out")
                    return nil
                }
                let attemptEpochs = epochs[TrialAttempt(trial: trial.id, attempt: result.attempt)] ?? []
                guard let chosen = EpochSelector.select(attemptEpochs, rule: options.selection,
                                                        metric: options.bestEpochMetric) else {
                    warnings.append("trial \(trial.id) is DONE but stored no per-epoch confusion matrix; left out")
                    return nil
                }
                return FoldScore(trialID: trial.id, fold: trial.fold, seed: trial.seed, attempt: result.attempt,
                                 epoch: chosen.epoch, epochsTrained: attemptEpochs.count, confusion: chosen.confusion)
            }
            return GridPointSummary(id: point.id, parameters: GridParameters(json: point.paramsJSON), folds: folds,
                                    plannedFolds: trials.count, stop: trials.lazy.compactMap(\.stop).first)
        }
        let ordered = summaries.sorted { isRankedBefore($0, $1, by: options.sortMetric) }
        let complete = ordered.filter { $0.isComplete && $0.stop == nil }
        let incomplete = ordered.filter { !$0.isComplete && $0.stop == nil }
        let stopped = ordered.filter { $0.stop != nil }
        let best = complete.first ?? incomplete.first { !$0.folds.isEmpty }
        let names = Set(summaries.flatMap { $0.parameters.names }).sorted()
        // A method's own key is left out of the other methods' points: it is swept when the points that have it differ.
        let swept = names.filter { name in Set(summaries.compactMap { $0.parameters.values[name] }).count > 1 }
        let views = GridViews(points: summaries, names: names, swept: swept, best: best, metric: options.sortMetric)
        var data = ReportData(
            experimentID: records.experiment.id, experimentName: records.experiment.name, options: options,
            parameterNames: names, sweptParameters: swept, complete: complete, incomplete: incomplete, stopped: stopped,
            budgetNotice: records.budgetNotice,
            bestPointID: best?.id, pivot: try views.pivot(requested: options.pivot), ablations: views.ablations(),
            curves: curves(records, epochs: epochs, results: results, points: ordered),
            published: PublishedResult.dfew, trialStates: stateCounts(records.trials), warnings: warnings)
        data.methods = MethodComparison(points: complete + incomplete,
                                        dataset: options.dataset ?? PublishedDataset.inferred(fromConfig: records.experiment.config))
        data.relabels = RelabelSummary.summaries(points: complete + incomplete + stopped, epochs: epochs)
        return data
    }

    /// Ranks by the sort metric's mean, then the other metric's, then grid point id; unscored points last.
    static func isRankedBefore(_ lhs: GridPointSummary, _ rhs: GridPointSummary, by metric: ReportMetric) -> Bool {
        let other: ReportMetric = metric == .uar ? .war : .uar
        let left = (lhs.mean(metric) ?? -1, lhs.mean(other) ?? -1), right = (rhs.mean(metric) ?? -1, rhs.mean(other) ?? -1)
        return left != right ? left > right : lhs.id < rhs.id
    }

    private static func curves(_ records: ExperimentReport, epochs: [TrialAttempt: [EpochMetricRecord]],
                               results: [Int: ResultRecord], points: [GridPointSummary]) -> [TrialCurve] {
        let selected = Dictionary(points.flatMap(\.folds).map { ($0.trialID, $0.epoch) }, uniquingKeysWith: { a, _ in a })
        let rank = Dictionary(points.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        return records.trials.compactMap { trial -> TrialCurve? in
            let attempts = epochs.keys.filter { $0.trial == trial.id }.map(\.attempt)
            guard let attempt = results[trial.id]?.attempt ?? attempts.max(),
                  let stored = epochs[TrialAttempt(trial: trial.id, attempt: attempt)], !stored.isEmpty else { return nil }
            let points = stored.sorted { $0.epoch < $1.epoch }.map { record in
                let matrix = record.confusion.flatMap(ConfusionMatrix.init(counts:))
                return TrialCurve.Point(epoch: record.epoch, trainLoss: record.trainLoss,
                                        uar: matrix?.unweightedAverageRecall ?? record.uar,
                                        war: matrix?.weightedAverageRecall ?? record.war)
            }
            return TrialCurve(trialID: trial.id, gridPointID: trial.gridPointID, fold: trial.fold, attempt: attempt,
                              selectedEpoch: selected[trial.id], points: points)
        }.sorted { (rank[$0.gridPointID] ?? .max, $0.fold, $0.trialID) < (rank[$1.gridPointID] ?? .max, $1.fold, $1.trialID) }
    }

    private static func stateCounts(_ trials: [TrialRecord]) -> [StateCount] {
        TrialState.allCases.compactMap { state in
            let count = trials.filter { $0.state == state }.count
            return count > 0 ? StateCount(state: state.rawValue, count: count) : nil
        }
    }
}

/// The key of one attempt's epochs.
struct TrialAttempt: Hashable {
    var trial: Int
    var attempt: Int
}
