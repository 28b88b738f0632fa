import FerdModels
import FerdTensor

/// A method's training recipe: the optimiser, schedule, epochs, batch and clip sampling its paper or reference
/// code uses, as ferd's SGD can follow them (docs/METHODS.md, "Training recipes and grid keys"). An experiment
/// or `ferd train` starts from these and overrides what it sets.
public struct MethodRecipe: Sendable, Equatable {
    /// The schedules a recipe can name, as `schedule:` and `--schedule` spell them.
    public static let scheduleNames = ["step", "exponential", "multistep", "constant"]

    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var epochs: Int
    public var batchSize: Int
    /// The default schedule's name (one of ``scheduleNames``).
    public var schedule: String
    /// Epochs between the step schedule's decays.
    public var stepEvery: Int
    /// The decay factor of the step and multistep schedules.
    public var stepFactor: Float
    /// The exponential schedule's factor per epoch.
    public var exponentialFactor: Float
    /// The multistep schedule's milestones as fractions of the epochs (RAN's code: 30 %, 50 %, 80 %).
    public var milestoneFractions: [Double]
    /// V: consecutive frames per segment; the clip's T frames come from T / V segments.
    public var framesPerSegment: Int

    /// The recipe of `method`.
    public static func of(_ method: ModelMethod) -> MethodRecipe {
        switch method {
        case .gcaIAL:
            // The GCA+IAL reference code: SGD lr 1e-3, momentum 0.9, wd 0.1, StepLR(7, 0.5), 80 epochs, batch 40.
            MethodRecipe(learningRate: 1e-3, momentum: 0.9, weightDecay: 0.1, epochs: 80, batchSize: 40, schedule: "step",
                         stepEvery: 7, stepFactor: 0.5, exponentialFactor: 0.95)
        case .scn:
            // SCN's train.py with --optimizer sgd (its default Adam has no ferd counterpart): lr 0.01, momentum 0.9,
            // wd 1e-4, ExponentialLR(0.9), 70 epochs, batch 64.
            MethodRecipe(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-4, epochs: 70, batchSize: 64,
                         schedule: "exponential", stepEvery: 10, stepFactor: 0.1, exponentialFactor: 0.9)
        case .ran:
            // RAN's train_attention_part_face.py: SGD lr 0.01, momentum 0.9, wd 1e-4, 40 epochs, ×0.1 at epochs
            // 30 %, 50 %, 80 %; batch 32 clips (the code's 256 images; a clip is T frames × 8 regions).
            MethodRecipe(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-4, epochs: 40, batchSize: 32,
                         schedule: "multistep", stepEvery: 10, stepFactor: 0.1, exponentialFactor: 0.9)
        case .stt, .formerDFER:
            // Former-DFER's code (STT reports the same setting): SGD lr 0.01, momentum 0.9, wd 1e-4, StepLR(40, 0.1),
            // 100 epochs, batch 32, 8 segments × 2 frames.
            MethodRecipe(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-4, epochs: 100, batchSize: 32, schedule: "step",
                         stepEvery: 40, stepFactor: 0.1, exponentialFactor: 0.9, framesPerSegment: 2)
        }
    }

    public init(learningRate: Float, momentum: Float, weightDecay: Float, epochs: Int, batchSize: Int, schedule: String,
                stepEvery: Int, stepFactor: Float, exponentialFactor: Float, milestoneFractions: [Double] = [0.3, 0.5, 0.8],
                framesPerSegment: Int = 1) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.epochs = epochs
        self.batchSize = batchSize
        self.schedule = schedule
        self.stepEvery = stepEvery
        self.stepFactor = stepFactor
        self.exponentialFactor = exponentialFactor
        self.milestoneFractions = milestoneFractions
        self.framesPerSegment = framesPerSegment
    }

    /// Validated settings of `model` trained by this recipe, with each given value overriding the recipe's.
    public func settings(model: ModelConfiguration, epochs: Int? = nil, batchSize: Int? = nil, learningRate: Float? = nil,
                         momentum: Float? = nil, weightDecay: Float? = nil, schedule name: String? = nil, every: Int? = nil,
                         factor: Float? = nil, framesPerSegment: Int? = nil, loss: LossWeights = .reference,
                         methodLoss: MethodLossSettings = .defaults, bestBy: BestEpochMetric = .war,
                         seed: UInt64 = 0) throws(TrainingError) -> TrainingSettings {
        let epochs = epochs ?? self.epochs
        let settings = TrainingSettings(
            model: model, epochs: epochs, batchSize: batchSize ?? self.batchSize, learningRate: learningRate ?? self.learningRate,
            momentum: momentum ?? self.momentum, weightDecay: weightDecay ?? self.weightDecay,
            schedule: try schedule(named: name, epochs: epochs, every: every, factor: factor), loss: loss,
            methodLoss: methodLoss, bestBy: bestBy, seed: seed, framesPerSegment: framesPerSegment ?? self.framesPerSegment)
        try settings.validate()
        return settings
    }

    /// The schedule `name` (nil: the recipe's) over `epochs`, with `every` (step only) and `factor` (step,
    /// exponential, multistep) overriding the recipe's; the message names the setting and the fix.
    public func schedule(named name: String?, epochs: Int, every: Int? = nil, factor: Float? = nil) throws(TrainingError)
        -> LearningRateSchedule {
        let name = name ?? schedule
        if every != nil && name != "step" {
            throw .settings("the decay interval (lr_step, --lr-step) applies to the step schedule, not \(name); remove it or use schedule step")
        }
        if let every, every < 1 { throw .settings("the decay interval is \(every) epochs; use at least 1") }
        if let factor, !(factor > 0 && factor <= 1) {
            throw .settings("the decay factor (lr_gamma, --gamma) is \(factor); use a number in (0, 1]")
        }
        switch name {
        case "step": return .step(every: every ?? stepEvery, factor: factor ?? stepFactor)
        case "exponential": return .exponential(factor: factor ?? exponentialFactor)
        case "multistep":
            return .multiStep(milestones: Array(Set(milestoneFractions.map { Int(Double(epochs) * $0) })).sorted(),
                              factor: factor ?? stepFactor)
        case "constant":
            if factor != nil {
                throw .settings("the decay factor (lr_gamma, --gamma) does not apply to the constant schedule; remove it")
            }
            return .constant
        default:
            throw .settings("schedule '\(name)' is not known; use \(Self.scheduleNames.joined(separator: ", "))")
        }
    }
}
