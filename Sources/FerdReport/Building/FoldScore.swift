import FerdTraining

/// One fold (trial) of a grid point scored at its selected epoch, from that epoch's stored confusion matrix.
public struct FoldScore: Sendable, Equatable {
    public var trialID: Int
    public var fold: Int
    public var seed: UInt64
    /// The attempt that completed the trial.
    public var attempt: Int
    /// The epoch that scores the fold (best or last, per the selection).
    public var epoch: Int
    /// Epochs the attempt trained.
    public var epochsTrained: Int
    /// The test confusion matrix at `epoch`.
    public var confusion: ConfusionMatrix
    /// Recall per class; nil for a class absent from this fold's test set.
    public var recall: [Double?]
    public var uar: Double
    public var war: Double

    public init(trialID: Int, fold: Int, seed: UInt64, attempt: Int, epoch: Int, epochsTrained: Int,
                confusion: ConfusionMatrix) {
        self.trialID = trialID
        self.fold = fold
        self.seed = seed
        self.attempt = attempt
        self.epoch = epoch
        self.epochsTrained = epochsTrained
        self.confusion = confusion
        self.recall = confusion.recall
        self.uar = confusion.unweightedAverageRecall
        self.war = confusion.weightedAverageRecall
    }

    /// The fold's value of `metric`.
    public func value(_ metric: ReportMetric) -> Double {
        metric == .uar ? uar : war
    }
}
