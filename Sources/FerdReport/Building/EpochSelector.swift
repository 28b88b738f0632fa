import FerdLeaderboard
import FerdTraining

/// Picks the epoch that scores a fold from one attempt's stored per-epoch confusion matrices.
public enum EpochSelector {
    /// The selected epoch and its confusion matrix, or nil when no epoch stored a valid matrix.
    /// `.bestEpoch` takes the highest `metric` (ties: the other metric, then the earlier epoch);
    /// `.lastEpoch` the last epoch trained.
    public static func select(_ epochs: [EpochMetricRecord], rule: EpochSelection,
                              metric: ReportMetric) -> (epoch: Int, confusion: ConfusionMatrix)? {
        let scored = epochs.compactMap { record -> (epoch: Int, confusion: ConfusionMatrix)? in
            guard let counts = record.confusion, let matrix = ConfusionMatrix(counts: counts), matrix.total > 0
            else { return nil }
            return (record.epoch, matrix)
        }.sorted { $0.epoch < $1.epoch }
        switch rule {
        case .lastEpoch:
            return scored.last
        case .bestEpoch:
            return scored.reduce(nil) { best, candidate in
                guard let best else { return candidate }
                return isBetter(candidate.confusion, than: best.confusion, metric: metric) ? candidate : best
            }
        }
    }

    private static func isBetter(_ candidate: ConfusionMatrix, than best: ConfusionMatrix,
                                 metric: ReportMetric) -> Bool {
        let key = { (matrix: ConfusionMatrix) -> (Double, Double) in
            metric == .uar ? (matrix.unweightedAverageRecall, matrix.weightedAverageRecall)
                : (matrix.weightedAverageRecall, matrix.unweightedAverageRecall)
        }
        return key(candidate) > key(best)
    }
}
