import FerdModels
import FerdTensor

/// Which test metric picks the best epoch (the one whose checkpoint is kept and whose scores are
/// reported). The reference code keeps the best top-1 accuracy, i.e. WAR.
public enum BestEpochMetric: String, Sendable, Codable, CaseIterable {
    case war, uar
}

/// Everything that determines a training run: with the same settings and data, two runs give the
/// same result.
public struct TrainingSettings: Sendable, Codable, Equatable {
    public var model: ModelConfiguration
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var schedule: LearningRateSchedule
    public var loss: LossWeights
    /// The objectives' settings of the methods other than GCA+IAL (``ModelConfiguration/method``).
    public var methodLoss: MethodLossSettings
    public var bestBy: BestEpochMetric
    public var seed: UInt64
    /// V: consecutive frames taken from each segment of a clip; `model.frames / framesPerSegment` segments
    /// (Former-DFER and STT: 8 × 2; JSON `framesPerSegment`, missing → 1).
    public var framesPerSegment: Int

    /// The reference code's optimiser and loss (SGD lr 1e-3, momentum 0.9, weight decay 0.1, ×0.5 every
    /// 7 epochs, λ = 0.1, aux weights 0.05/0) for `model`.
    public init(model: ModelConfiguration, epochs: Int = 80, batchSize: Int = 40, learningRate: Float = 1e-3,
                momentum: Float = 0.9, weightDecay: Float = 0.1, schedule: LearningRateSchedule = .reference,
                loss: LossWeights = .reference, methodLoss: MethodLossSettings = .defaults, bestBy: BestEpochMetric = .war,
                seed: UInt64 = 0, framesPerSegment: Int = 1) {
        self.model = model
        self.framesPerSegment = framesPerSegment
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.loss = loss
        self.methodLoss = methodLoss
        self.bestBy = bestBy
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case model, epochs, batchSize, learningRate, momentum, weightDecay, schedule, loss, methodLoss, bestBy, seed, framesPerSegment
    }

    /// Decodes settings; those written before methods existed get the methods' defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(ModelConfiguration.self, forKey: .model)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        momentum = try c.decode(Float.self, forKey: .momentum)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        schedule = try c.decode(LearningRateSchedule.self, forKey: .schedule)
        loss = try c.decode(LossWeights.self, forKey: .loss)
        methodLoss = try c.decodeIfPresent(MethodLossSettings.self, forKey: .methodLoss) ?? .defaults
        bestBy = try c.decode(BestEpochMetric.self, forKey: .bestBy)
        seed = try c.decode(UInt64.self, forKey: .seed)
        framesPerSegment = try c.decodeIfPresent(Int.self, forKey: .framesPerSegment) ?? 1
    }

    /// Checks the numbers; the message names the setting and the fix.
    public func validate() throws(TrainingError) {
        guard epochs >= 1 else { throw .settings("epochs is \(epochs); train for at least 1 epoch") }
        guard batchSize >= 1 else { throw .settings("batch size is \(batchSize); use at least 1 clip per batch") }
        guard learningRate > 0, learningRate.isFinite else { throw .settings("learning rate \(learningRate) must be positive") }
        guard (0..<1).contains(momentum) else { throw .settings("momentum \(momentum) must be in [0, 1)") }
        guard weightDecay >= 0 else { throw .settings("weight decay \(weightDecay) must not be negative") }
        guard framesPerSegment >= 1, model.frames % framesPerSegment == 0 else {
            throw .settings("frames per segment \(framesPerSegment) must be ≥ 1 and divide the model's \(model.frames) frames; use 1 or a divisor")
        }
        let scn = methodLoss.scn
        guard scn.rankFraction > 0, scn.rankFraction < 1 else {
            throw .settings("SCN's β (scn_beta) is \(scn.rankFraction); use a fraction in (0, 1)")
        }
        guard scn.rankMargin >= 0, scn.relabelMargin >= 0 else {
            throw .settings("SCN's margins δ1 (scn_rank_margin) \(scn.rankMargin) and δ2 (scn_relabel_margin) \(scn.relabelMargin) must not be negative")
        }
        guard scn.relabelEpoch >= 1 else {
            throw .settings("SCN's relabel epoch (scn_relabel_epoch) is \(scn.relabelEpoch); use a 1-based epoch ≥ 1 (above epochs: never relabel)")
        }
        guard methodLoss.ran.margin >= 0 else { throw .settings("RAN's margin δ (ran_margin) is \(methodLoss.ran.margin); it must not be negative") }
        guard methodLoss.stt.compactWeight >= 0 else {
            throw .settings("STT's CSCE weight λ (csce_lambda) is \(methodLoss.stt.compactWeight); it must not be negative")
        }
        do {
            try model.validate()
        } catch {
            throw .settings("\(error)")
        }
    }
}

extension TrainingSettings {
    /// True when `other` trains the same model the same way: equal settings except for choices of how
    /// the engine computes that do not change the values (RAN's recomputation), so a resume may switch them.
    func trainsLike(_ other: TrainingSettings) -> Bool {
        var aligned = other
        aligned.model.ranRecompute = model.ranRecompute
        return aligned == self
    }

    /// True when `other` trains like these settings (``trainsLike(_:)``) except for the batch size and a
    /// learning rate scaled with it (lr / batch the same to float rounding): the linear scaling rule a
    /// smaller gang applies.
    func differsOnlyByRescaledBatch(from other: TrainingSettings) -> Bool {
        var aligned = other
        aligned.batchSize = batchSize
        aligned.learningRate = learningRate
        guard trainsLike(aligned) else { return false }
        let perSample = Double(learningRate) / Double(batchSize)
        let otherPerSample = Double(other.learningRate) / Double(other.batchSize)
        return abs(perSample - otherPerSample) <= 1e-6 * abs(perSample)
    }
}

/// Why training could not start or continue.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case settings(String)
    case data(String)
    case resume(String)
    case diverged(String)
    /// The members of a data-parallel gang no longer hold the same model: `ranks` differ from the
    /// state most members hold (on a tie, the lowest rank's); `detail` says when and shows the digests.
    case replicasDiverged(ranks: [Int], detail: String)

    /// Whether another attempt of the same trial may succeed: not for settings that cannot train, nor for a
    /// loss that became non-finite (the same settings and seed diverge again); data and resume problems may be
    /// one worker's (its data path, its disk), and replicas may drift apart through a fault.
    public var isRetryable: Bool {
        switch self {
        case .settings, .diverged: false
        case .data, .resume, .replicasDiverged: true
        }
    }

    public var description: String {
        switch self {
        case .settings(let text): "training settings: \(text)"
        case .data(let text): "training data: \(text)"
        case .resume(let text): "resume: \(text)"
        case .diverged(let text): "training diverged: \(text)"
        case let .replicasDiverged(ranks, detail):
            "the gang's replicas diverged: rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) \(ranks.count == 1 ? "holds" : "hold") a different model state than the other members \(detail)"
        }
    }
}
