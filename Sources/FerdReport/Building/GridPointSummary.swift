import FerdLeaderboard
import FerdTraining

/// One grid point aggregated over its scored folds.
public struct GridPointSummary: Sendable, Equatable, Identifiable {
    public var id: Int
    public var parameters: GridParameters
    /// Scored folds, by fold then seed.
    public var folds: [FoldScore]
    /// Trials planned for the point (all folds and seeds, whatever their state).
    public var plannedFolds: Int
    public var uar: Spread?
    public var war: Spread?
    /// Mean ± std recall per class over the folds whose test set holds the class.
    public var recall: [Spread?]
    /// The selected epochs' confusion matrices summed over the folds.
    public var pooledConfusion: ConfusionMatrix?
    /// Early stopping ended the point: when and why (its folds scored before that still count).
    public var stop: TrialStop?

    public init(id: Int, parameters: GridParameters, folds: [FoldScore], plannedFolds: Int, stop: TrialStop? = nil) {
        self.id = id
        self.stop = stop
        self.parameters = parameters
        self.folds = folds
        self.plannedFolds = plannedFolds
        uar = Spread(folds.map(\.uar))
        war = Spread(folds.map(\.war))
        let classes = folds.map(\.confusion.classes).max() ?? 0
        recall = (0..<classes).map { index in
            Spread(folds.compactMap { index < $0.recall.count ? $0.recall[index] : nil })
        }
        pooledConfusion = Self.pool(folds.map(\.confusion))
    }

    /// Every planned fold is scored.
    public var isComplete: Bool { !folds.isEmpty && folds.count >= plannedFolds }

    /// "3/5".
    public var foldsDone: String { "\(folds.count)/\(plannedFolds)" }

    /// The mean of `metric`, nil with no scored fold.
    public func mean(_ metric: ReportMetric) -> Double? {
        (metric == .uar ? uar : war)?.mean
    }

    private static func pool(_ matrices: [ConfusionMatrix]) -> ConfusionMatrix? {
        guard let first = matrices.first, matrices.allSatisfy({ $0.classes == first.classes }) else { return nil }
        var sum = first.counts
        for matrix in matrices.dropFirst() {
            for row in sum.indices {
                for column in sum[row].indices { sum[row][column] += matrix.counts[row][column] }
            }
        }
        return ConfusionMatrix(counts: sum)
    }
}
