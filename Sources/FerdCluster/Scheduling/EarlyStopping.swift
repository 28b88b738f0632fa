/// Fold-aware early stopping of grid points, as pure logic (metrics in, decisions out): a grid point is judged on
/// its folds together, each fold only against the same fold (and seed) of the other grid points, never one fold
/// against another, so a good setting is not stopped because one of its folds is hard (docs/SWEEPS.md).
///
/// At an epoch `e` a point's standing on one of its folds is its percentile among the points that reached `e` on that
/// fold, by the best metric up to `e` (ties count half); folds with fewer than `grace` other points at `e` are not
/// used. Its score is the mean standing over its folds that reached `e`.
/// - `median`: from `minEpochs` on, a point whose score at an epoch is below one half (below the median of the
///   others on average over its folds) is stopped.
/// - `asha`: at the rungs `minEpochs × reductionFactor^k`, a point whose score is below `1 − 1 / reductionFactor`
///   (not in the top 1 / reductionFactor) is stopped. Asynchronous: a point is judged again when another of its
///   folds reaches the rung.
/// A stop is final. Scores are computed from the stored curves alone, so a restarted coordinator that replays them
/// (`seed`) decides the same way from then on.
public struct EarlyStopping: Sendable, Equatable {
    public enum Rule: String, Sendable, CaseIterable {
        case median
        case asha
    }

    /// The epoch metric the rule compares.
    public enum Metric: String, Sendable, CaseIterable {
        case uar
        case war
    }

    /// The rule and its thresholds, as the experiment file's `stopping:` gives them.
    public struct Configuration: Sendable, Equatable {
        public var rule: Rule
        /// The first epoch at which a point may be stopped (median) or the first rung (asha).
        public var minEpochs: Int
        /// The fewest other points that must have reached an epoch on a fold before that fold counts.
        public var grace: Int
        /// ASHA's η: the top 1/η of the points continue at each rung.
        public var reductionFactor: Int
        /// What the points are compared on.
        public var metric: Metric

        public init(rule: Rule, minEpochs: Int = 2, grace: Int = 2, reductionFactor: Int = 3, metric: Metric = .uar) {
            precondition(minEpochs >= 1 && grace >= 1 && reductionFactor >= 2, "invalid early-stopping configuration")
            self.rule = rule
            self.metric = metric
            self.minEpochs = minEpochs
            self.grace = grace
            self.reductionFactor = reductionFactor
        }
    }

    /// Which fold (and seed) of a grid point a trial is: the unit compared across points.
    public struct Slot: Sendable, Hashable {
        public var point: Int
        public var fold: Int
        public var seed: Int

        public init(point: Int, fold: Int, seed: Int = 0) {
            self.point = point
            self.fold = fold
            self.seed = seed
        }
    }

    /// A grid point stopped at `epoch` (the epoch whose metrics decided it).
    public struct Decision: Sendable, Equatable {
        public var point: Int
        public var epoch: Int
        public var reason: String

        public init(point: Int, epoch: Int, reason: String) {
            self.point = point
            self.epoch = epoch
            self.reason = reason
        }
    }

    public let configuration: Configuration
    /// The best metric up to each epoch, by slot.
    private var curves: [Slot: [Double]] = [:]
    public private(set) var stopped: [Int: Decision] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Records the metric a slot reached at `epoch` (1-based, in order; a resumed attempt repeats none) and
    /// returns the points stopped because of it.
    public mutating func record(_ slot: Slot, epoch: Int, metric: Double) -> [Decision] {
        store(slot, epoch: epoch, metric: metric)
        guard stopped[slot.point] == nil, isDecisionEpoch(epoch), let score = score(of: slot.point, at: epoch) else {
            return []
        }
        let threshold = configuration.rule == .median ? 0.5 : 1 - 1 / Double(configuration.reductionFactor)
        guard score.value < threshold else { return [] }
        let verb = configuration.rule == .median ? "below the median" : "outside the top 1/\(configuration.reductionFactor)"
        let decision = Decision(point: slot.point, epoch: epoch, reason: String(
            format: "%@ rule at epoch %d: standing %.2f < %.2f over %d fold(s) against the same folds of other grid points (%@)",
            configuration.rule.rawValue, epoch, score.value, threshold, score.folds, verb))
        stopped[slot.point] = decision
        return [decision]
    }

    /// Restores a stored curve (the slot's metric per epoch) without deciding anything (after a coordinator
    /// restart).
    public mutating func seed(_ slot: Slot, curve: [Double]) {
        for (index, metric) in curve.enumerated() {
            store(slot, epoch: index + 1, metric: metric)
        }
    }

    /// Restores a stored decision: its point stays stopped.
    public mutating func restore(_ decision: Decision) {
        stopped[decision.point] = decision
    }

    /// A point's mean standing over its folds at `epoch` and how many folds it rests on; nil when no fold has
    /// `grace` other points to compare with.
    public func score(of point: Int, at epoch: Int) -> (value: Double, folds: Int)? {
        var standings: [Double] = []
        for (slot, curve) in curves where slot.point == point && curve.count >= epoch {
            let value = curve[epoch - 1]
            let others = curves.compactMap { other, otherCurve -> Double? in
                other.point != point && other.fold == slot.fold && other.seed == slot.seed && otherCurve.count >= epoch
                    ? otherCurve[epoch - 1] : nil
            }
            guard others.count >= configuration.grace else { continue }
            let below = Double(others.filter { $0 < value }.count)
            let ties = Double(others.filter { $0 == value }.count)
            standings.append((below + ties / 2) / Double(others.count))
        }
        guard !standings.isEmpty else { return nil }
        return (standings.reduce(0, +) / Double(standings.count), standings.count)
    }

    /// The latest epoch any of the point's slots reached; nil before its first.
    public func latestEpoch(of point: Int) -> Int? {
        curves.filter { $0.key.point == point }.map(\.value.count).max()
    }

    private func isDecisionEpoch(_ epoch: Int) -> Bool {
        guard epoch >= configuration.minEpochs else { return false }
        guard configuration.rule == .asha else { return true }
        var rung = configuration.minEpochs
        while rung < epoch { rung *= configuration.reductionFactor }
        return rung == epoch
    }

    private mutating func store(_ slot: Slot, epoch: Int, metric: Double) {
        var curve = curves[slot] ?? []
        guard epoch >= 1 else { return }
        if curve.count >= epoch { curve.removeSubrange((epoch - 1)...) }
        while curve.count < epoch - 1 { curve.append(curve.last ?? 0) }
        curve.append(max(curve.last ?? -.infinity, metric))
        curves[slot] = curve
    }
}
