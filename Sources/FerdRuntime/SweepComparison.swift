import FerdCluster
import FerdLeaderboard
import FerdRandom

/// What early stopping would have done to a finished sweep: its stored learning curves replayed (`SweepReplay`)
/// in full and under each rule, with the epochs and time each spends, whether it keeps the full sweep's best grid
/// point and how well its final ordering of the points agrees with the full one (docs/SWEEPS.md). Which points run
/// first matters (a rule can only stop a point worse than those it has seen), so the sweep is replayed in its own
/// order and in `orders − 1` shuffled orders of the grid points, and the rows are averages over the orders.
public struct SweepComparison: Sendable {
    /// One way of running the sweep, averaged over the orders.
    public struct Row: Sendable, Equatable {
        public var name: String
        public var epochs: Double
        public var wallSeconds: Double
        public var stoppedPoints: Double
        /// The share of the orders in which it finished the full sweep's best point as its best.
        public var sameBest: Double
        /// How much worse, by the full sweep's scores, the point it finished as best is than the full sweep's best
        /// (the mean over folds of the best metric; 0 when it is the same point).
        public var regret: Double
        /// Spearman's rank correlation between this ordering of the points and the full sweep's.
        public var rankCorrelation: Double
    }

    public var points: Int
    public var trials: Int
    public var orders: Int
    /// The full sweep's best point.
    public var best: Int?
    public var rows: [Row]

    /// Replays the experiment's trials (their last attempt's stored epochs; trials with none are left out) on
    /// `workers` simulated workers in full and under each of `rules`.
    public init(_ report: ExperimentReport, workers: Int, rules: [(name: String, EarlyStopping.Configuration)],
                orders: Int = 1, seed: UInt64 = 0) throws {
        precondition(orders >= 1, "at least the sweep's own order")
        let byAttempt = Dictionary(grouping: report.epochMetrics) { TrialAttemptKey(trialID: $0.trialID, attempt: $0.attempt) }
        // The seed index of a trial: its place among the trials of its grid point and fold (the launcher stores them
        // in that order), so that seed k of a fold is compared with seed k of the same fold of other points.
        var seedIndex: [Int: Int] = [:]
        for (_, trials) in Dictionary(grouping: report.trials, by: { [$0.gridPointID, $0.fold] }) {
            for (index, trial) in trials.sorted(by: { $0.id < $1.id }).enumerated() { seedIndex[trial.id] = index }
        }
        let curves = report.trials.compactMap { trial -> SweepReplay.Curve? in
            let last = byAttempt.keys.filter { $0.trialID == trial.id }.map(\.attempt).max()
            guard let last, let epochs = byAttempt[TrialAttemptKey(trialID: trial.id, attempt: last)]?.sorted(by: { $0.epoch < $1.epoch }),
                  !epochs.isEmpty else { return nil }
            return SweepReplay.Curve(slot: EarlyStopping.Slot(point: trial.gridPointID, fold: trial.fold,
                                                              seed: seedIndex[trial.id] ?? 0),
                                     metrics: epochs.map(\.uar), seconds: epochs.map(\.seconds))
        }
        let full = SweepReplay(curves: curves, workers: workers).run(stopping: nil)
        let fullOrder = Self.order(full, curves: curves)
        points = Set(curves.map(\.slot.point)).count
        trials = curves.count
        self.orders = orders
        best = full.best
        var random = SplitMix64(seed: seed)
        let pointOrder = curves.map(\.slot.point).reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
        let arrangements = [curves] + (1..<orders).map { _ in
            let shuffled = pointOrder.shuffled(using: &random)
            return shuffled.flatMap { point in curves.filter { $0.slot.point == point } }
        }
        rows = ([("full", nil)] + rules.map { ($0.name, Optional($0.1)) }).map { name, rule in
            let outcomes = arrangements.map { SweepReplay(curves: $0, workers: workers).run(stopping: rule) }
            func mean(_ value: (SweepReplay.Outcome) -> Double) -> Double {
                outcomes.map(value).reduce(0, +) / Double(outcomes.count)
            }
            return Row(name: name, epochs: mean { Double($0.epochs) }, wallSeconds: mean(\.wallSeconds),
                       stoppedPoints: mean { Double($0.stopped.count) },
                       sameBest: mean { $0.best == full.best ? 1 : 0 },
                       regret: mean { outcome in
                           guard let top = full.best.flatMap({ full.finished[$0] }) else { return 0 }
                           return top - (outcome.best.flatMap { full.finished[$0] } ?? 0)
                       },
                       rankCorrelation: mean { Self.spearman(fullOrder, Self.order($0, curves: curves)) })
        }
    }

    /// The points best first as the run would rank them: finished ones by their mean best metric, then stopped
    /// ones by the epoch that stopped them (later first) and the mean best metric up to that epoch.
    static func order(_ outcome: SweepReplay.Outcome, curves: [SweepReplay.Curve]) -> [Int] {
        let finished = outcome.finished.sorted { ($0.value, -$0.key) > ($1.value, -$1.key) }.map(\.key)
        let stopped = outcome.stopped.keys.map { point -> (point: Int, epoch: Int, reached: Double) in
            let epoch = outcome.stopped[point]!
            let bests = curves.filter { $0.slot.point == point }.map { $0.metrics.prefix(epoch).max() ?? 0 }
            return (point, epoch, bests.reduce(0, +) / Double(max(1, bests.count)))
        }
        return finished + stopped.sorted { ($0.epoch, $0.reached, -$0.point) > ($1.epoch, $1.reached, -$1.point) }.map(\.point)
    }

    /// Spearman's ρ of two orderings of the same items (1: the same order).
    static func spearman(_ first: [Int], _ second: [Int]) -> Double {
        let count = first.count
        guard count > 1, Set(first) == Set(second) else { return 1 }
        let rank = Dictionary(uniqueKeysWithValues: second.enumerated().map { ($1, $0) })
        let squares = first.enumerated().reduce(0.0) { sum, entry in
            let difference = Double(entry.offset - rank[entry.element]!)
            return sum + difference * difference
        }
        return 1 - 6 * squares / Double(count * (count * count - 1))
    }
}
