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
    /// This member's view of the epoch when training with a gang; nil (and absent from metrics.jsonl)
    /// otherwise.
    public var gang: GangEpochReport?
    /// SCN's relabelling in this epoch; nil (and absent from metrics.jsonl) for other methods and before
    /// the relabel epoch.
    public var relabels: RelabelReport?

    enum CodingKeys: String, CodingKey {
        case epoch, uar, war, recall, confusion, seconds, gang, relabels
        case trainLoss = "train_loss"
        case learningRate = "lr"
    }

    public init(epoch: Int, trainLoss: Double, learningRate: Double, seconds: Double, matrix: ConfusionMatrix,
                gang: GangEpochReport? = nil, relabels: RelabelReport? = nil) {
        self.gang = gang
        self.relabels = relabels
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

/// What one member of a data-parallel gang saw in an epoch (docs/DATA-PARALLEL.md).
public struct GangEpochReport: Sendable, Codable, Equatable {
    /// This member's position, 0..<size.
    public var rank: Int
    /// The number of members.
    public var size: Int
    /// SHA-256 (hex) of every parameter and buffer after the epoch's batch-norm averaging; the same on
    /// every member, else the trainer stopped.
    public var stateDigest: String
    /// Training steps of the epoch.
    public var steps: Int
    /// Seconds spent waiting in `finishStep` (the averaged gradients) over the epoch.
    public var exchangeSeconds: Double

    enum CodingKeys: String, CodingKey {
        case rank, size, steps
        case stateDigest = "state_digest"
        case exchangeSeconds = "exchange_seconds"
    }

    public init(rank: Int, size: Int, stateDigest: String, steps: Int, exchangeSeconds: Double) {
        self.rank = rank
        self.size = size
        self.stateDigest = stateDigest
        self.steps = steps
        self.exchangeSeconds = exchangeSeconds
    }
}
