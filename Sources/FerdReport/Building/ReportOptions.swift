/// Which epoch of a fold's training run scores the fold.
public enum EpochSelection: String, Sendable, Codable, CaseIterable {
    /// The epoch with the best test score: the field's protocol (optimistic, the test set picks the epoch).
    case bestEpoch = "best-epoch"
    /// The last epoch trained: the honest alternative, no test-set selection.
    case lastEpoch = "last-epoch"
}

/// A headline metric: UAR (mean per-class recall) or WAR (overall accuracy).
public enum ReportMetric: String, Sendable, Codable, CaseIterable {
    case uar, war

    /// The metric's name as the papers print it.
    public var label: String { rawValue.uppercased() }
}

/// What `ferd report` computes: how folds are scored, how rows are ordered and which two parameters the
/// pivot table crosses.
public struct ReportOptions: Sendable, Equatable {
    public var selection: EpochSelection
    /// The metric that picks the best epoch under `.bestEpoch` (the reference code keeps the best WAR).
    public var bestEpochMetric: ReportMetric
    /// The metric that orders grid points (ties broken by the other metric, then grid point id).
    public var sortMetric: ReportMetric
    /// The pivot's row and column parameter names (or aliases such as λ and r); nil picks them.
    public var pivot: (rows: String, columns: String)?
    /// The dataset whose published results the method comparison shows; nil infers it from the experiment file.
    public var dataset: PublishedDataset?

    public init(selection: EpochSelection = .bestEpoch, bestEpochMetric: ReportMetric = .war,
                sortMetric: ReportMetric = .uar, pivot: (rows: String, columns: String)? = nil, dataset: PublishedDataset? = nil) {
        self.dataset = dataset
        self.selection = selection
        self.bestEpochMetric = bestEpochMetric
        self.sortMetric = sortMetric
        self.pivot = pivot
    }

    public static func == (lhs: ReportOptions, rhs: ReportOptions) -> Bool {
        lhs.selection == rhs.selection && lhs.bestEpochMetric == rhs.bestEpochMetric
            && lhs.sortMetric == rhs.sortMetric && lhs.pivot?.rows == rhs.pivot?.rows
            && lhs.pivot?.columns == rhs.pivot?.columns && lhs.dataset == rhs.dataset
    }
}
