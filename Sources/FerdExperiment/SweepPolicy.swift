import Yams

/// How a sweep spends its compute (docs/SWEEPS.md): fold-aware early stopping of grid points (`stopping:`) and the
/// limits on the work handed out (`budget:`, `max_concurrent:`).
public struct SweepPolicy: Sendable, Equatable {
    /// `stopping: {rule: median|asha, metric: uar|war, min_epochs, grace, reduction_factor}`.
    public struct Stopping: Sendable, Equatable {
        public static let rules = ["median", "asha"]
        public static let metrics = ["uar", "war"]

        public var rule: String
        public var metric: String
        public var minEpochs: Int
        public var grace: Int
        public var reductionFactor: Int
    }

    /// `budget: {epochs: N}`, `{trial_hours: H}` or `{wall_hours: H}`: when it is spent no new trial starts.
    public enum Budget: Sendable, Equatable {
        /// Epochs reported by all trials together.
        case epochs(Int)
        /// Hours of training summed over trials (the stored epochs' durations).
        case trialHours(Double)
        /// Hours since the coordinator first started the experiment's trials.
        case wallHours(Double)
    }

    public var stopping: Stopping?
    public var budget: Budget?
    /// The most trials running at once; nil: as many as the workers take.
    public var maxConcurrent: Int?

    public init(stopping: Stopping? = nil, budget: Budget? = nil, maxConcurrent: Int? = nil) {
        self.stopping = stopping
        self.budget = budget
        self.maxConcurrent = maxConcurrent
    }

    static func parseStopping(_ node: Node) throws(ExperimentError) -> Stopping {
        guard let mapping = node.mapping else {
            throw .invalid("'stopping' must be a mapping such as {rule: median, min_epochs: 3}", line: node.mark?.line)
        }
        var stopping = Stopping(rule: "", metric: "uar", minEpochs: 2, grace: 2, reductionFactor: 3)
        for (key, value) in mapping {
            switch key.string {
            case "rule": stopping.rule = try ExperimentDefinition.word(value, "stopping.rule", among: Stopping.rules)
            case "metric": stopping.metric = try ExperimentDefinition.word(value, "stopping.metric", among: Stopping.metrics)
            case "min_epochs": stopping.minEpochs = try ExperimentDefinition.integer(value, "stopping.min_epochs", minimum: 1)
            case "grace": stopping.grace = try ExperimentDefinition.integer(value, "stopping.grace", minimum: 1)
            case "reduction_factor": stopping.reductionFactor = try ExperimentDefinition.integer(value, "stopping.reduction_factor", minimum: 2)
            default:
                throw .invalid("unknown key 'stopping.\(key.string ?? "?")'; the keys are rule, metric, min_epochs, grace, "
                               + "reduction_factor", line: key.mark?.line)
            }
        }
        guard !stopping.rule.isEmpty else {
            throw .invalid("'stopping' needs a rule: median or asha", line: node.mark?.line)
        }
        return stopping
    }

    static func parseBudget(_ node: Node) throws(ExperimentError) -> Budget {
        guard let mapping = node.mapping, mapping.count == 1, let (key, value) = mapping.first else {
            throw .invalid("'budget' must name one limit: {epochs: N}, {trial_hours: H} or {wall_hours: H}",
                           line: node.mark?.line)
        }
        switch key.string {
        case "epochs": return .epochs(try ExperimentDefinition.integer(value, "budget.epochs", minimum: 1))
        case "trial_hours": return .trialHours(try hours(value, "budget.trial_hours"))
        case "wall_hours": return .wallHours(try hours(value, "budget.wall_hours"))
        default:
            throw .invalid("unknown budget '\(key.string ?? "?")'; use epochs, trial_hours or wall_hours", line: key.mark?.line)
        }
    }

    static func parseMaxConcurrent(_ node: Node) throws(ExperimentError) -> Int {
        try ExperimentDefinition.integer(node, "max_concurrent", minimum: 1)
    }

    private static func hours(_ node: Node, _ key: String) throws(ExperimentError) -> Double {
        guard let value = node.float, value > 0, value.isFinite else {
            throw .invalid("'\(key)' must be a positive number of hours, got \(node.string ?? "a list or mapping")",
                           line: node.mark?.line)
        }
        return value
    }
}
