import FerdLeaderboard

/// The methods an experiment compares (grid key `method`): ferd's best grid point of each method next to the
/// published results of the dataset it trains on. Present only when the grid names a method.
public struct MethodComparison: Sendable, Equatable {
    /// One method's best grid point (complete ones first, then by the sort metric).
    public struct Row: Sendable, Equatable {
        /// ferd's `method:` word.
        public var method: String
        public var point: GridPointSummary
    }

    /// ferd's method words in the order the table lists them, and the names the papers print.
    public static let methodNames: KeyValuePairs<String, String> = [
        "gca-ial": "GCA+IAL", "scn": "SCN", "ran": "RAN", "stt": "STT", "former-dfer": "Former-DFER",
    ]

    public var dataset: PublishedDataset
    public var rows: [Row]
    public var published: [PublishedMethodResult]

    /// The comparison of `points` (best first), nil when none names a method.
    init?(points: [GridPointSummary], dataset: PublishedDataset) {
        guard points.contains(where: { $0.parameters.values["method"] != nil }) else { return nil }
        self.dataset = dataset
        rows = Self.methodNames.compactMap { method, _ in
            points.first { Self.method(of: $0) == method && !$0.folds.isEmpty }.map { Row(method: method, point: $0) }
        }
        published = PublishedMethodResult.results(for: dataset)
    }

    /// A point's `method:` word (gca-ial when the grid leaves it out).
    static func method(of point: GridPointSummary) -> String {
        point.parameters.values["method"]?.display ?? "gca-ial"
    }

    /// The name the papers print for ferd's `method:` word.
    public static func name(of method: String) -> String {
        methodNames.first { $0.key == method }?.value ?? method
    }
}

/// SCN's relabelling in one fold: over the scored attempt's epochs, the labels replaced, and the training clips
/// relabelled after its last stored epoch, by dataset class.
public struct RelabelSummary: Sendable, Equatable {
    public var gridPointID: Int
    public var fold: Int
    public var trialID: Int
    /// Epochs that relabelled.
    public var epochs: Int
    /// Labels replaced over those epochs.
    public var changed: Int
    /// Clips whose label differs from the dataset's after the last epoch, by class in label order.
    public var relabelledByClass: [Int]

    /// The summaries of the SCN points' scored folds, from their attempts' stored epochs.
    static func summaries(points: [GridPointSummary], epochs: [TrialAttempt: [EpochMetricRecord]]) -> [RelabelSummary] {
        points.filter { MethodComparison.method(of: $0) == "scn" }.flatMap { point in
            point.folds.compactMap { fold -> RelabelSummary? in
                let stored = (epochs[TrialAttempt(trial: fold.trialID, attempt: fold.attempt)] ?? [])
                    .sorted { $0.epoch < $1.epoch }.compactMap(\.relabels)
                guard let last = stored.last else { return nil }
                return RelabelSummary(gridPointID: point.id, fold: fold.fold, trialID: fold.trialID, epochs: stored.count,
                                      changed: stored.reduce(0) { $0 + $1.changed }, relabelledByClass: last.relabelledByClass)
            }
        }
    }
}
