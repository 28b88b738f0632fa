/// Everything a renderer prints about one experiment, computed once from the leaderboard records.
public struct ReportData: Sendable, Equatable {
    public var experimentID: Int
    public var experimentName: String
    public var options: ReportOptions
    /// Every parameter name in the grid, sorted.
    public var parameterNames: [String]
    /// The parameters that take more than one value, sorted.
    public var sweptParameters: [String]
    /// Grid points with every planned fold scored, best first by the sort metric.
    public var complete: [GridPointSummary]
    /// Grid points with folds still missing (including none scored), best first; kept apart from `complete`.
    public var incomplete: [GridPointSummary]
    /// Grid points early stopping ended, best first; never ranked with the others.
    public var stopped: [GridPointSummary] = []
    /// What the coordinator said when the budget was spent; nil while it lasts.
    public var budgetNotice: String?
    /// The best complete grid point, else the best incomplete one with a scored fold.
    public var bestPointID: Int?
    /// Nil when fewer than two parameters are swept.
    public var pivot: PivotTable?
    public var ablations: [AblationGroup]
    /// Learning curves of every trial with stored epochs, by grid point and fold.
    public var curves: [TrialCurve]
    public var published: [PublishedResult]
    /// The methods the grid compares with the published results of its dataset; nil when the grid names no method.
    public var methods: MethodComparison? = nil
    /// SCN's relabelling per scored fold of its grid points; empty for other methods.
    public var relabels: [RelabelSummary] = []
    /// Trials per state, in the scheduler's state order, states with no trial left out.
    public var trialStates: [StateCount]
    /// Inconsistencies found in the records (a DONE trial with no stored confusion matrix, …).
    public var warnings: [String]

    /// Complete points, then incomplete ones.
    public var points: [GridPointSummary] { complete + incomplete }

    /// The best configuration, if any fold is scored.
    public var best: GridPointSummary? { points.first { $0.id == bestPointID } }

    /// The number of scored folds over all grid points.
    public var scoredFolds: Int { points.reduce(0) { $0 + $1.folds.count } }

    /// The names that tell grid points apart: the swept ones, or all when nothing is swept.
    public var labelParameters: [String] { sweptParameters.isEmpty ? parameterNames : sweptParameters }

    /// A grid point's short label, e.g. "lambda=0.1, reduction=16".
    public func label(_ point: GridPointSummary) -> String {
        let summary = point.parameters.summary(labelParameters)
        return summary.isEmpty ? "grid point \(point.id)" : summary
    }
}
