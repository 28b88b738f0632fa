/// What one epoch produced: the training loss and the fold's test metrics. One line of metrics.jsonl.
public struct EpochReport: Sendable, Codable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean total loss over the epoch's training batches.
    public var trainLoss: Double
    public var learningRate: Double
    /// Wall-clock seconds for training and evaluating the epoch.
    public var seconds: Double
    public var uar: Double
    public var war: Double
    /// Recall per class (nil for a class without test samples).
    public var recall: [Double?]
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case epoch, uar, war, recall, confusion, seconds
        case trainLoss = "train_loss"
        case learningRate = "lr"
    }

    public init(epoch: Int, trainLoss: Double, learningRate: Double, seconds: Double, matrix: ConfusionMatrix) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.learningRate = learningRate
        self.seconds = seconds
        self.uar = matrix.unweightedAverageRecall
        self.war = matrix.weightedAverageRecall
        self.recall = matrix.recall
        self.confusion = matrix.counts
    }

    /// The value of `metric` for this epoch.
    public func score(_ metric: BestEpochMetric) -> Double {
        metric == .uar ? uar : war
    }
}
