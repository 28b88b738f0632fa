import FerdCluster
import FerdLeaderboard

/// What early stopping would have done to a finished sweep: its stored learning curves replayed (`SweepReplay`)
/// in full and under each rule, with the epochs and time each spends, whether it keeps the full sweep's best grid
/// point and how well its final ordering of the points agrees with the full one (docs/SWEEPS.md).
public struct SweepComparison: Sendable {
    /// One way of running the sweep.
    public struct Row: Sendable, Equatable {
        public var name: String
        public var epochs: Int
        public var wallSeconds: Double
        public var stoppedPoints: Int
        public var best: Int?
        public var sameBest: Bool
        /// Spearman's rank correlation between this ordering of the points and the full sweep's.
        public var rankCorrelation: Double
    }

    public var points: Int
    public var trials: Int
    public var rows: [Row]

    /// Replays the experiment's trials (their last attempt's stored epochs; trials with none are left out) on
    /// `workers` simulated workers in full and under each of `rules`.
    public init(_ report: ExperimentReport, workers: Int, rules: [(name: String, EarlyStopping.Configuration)]) throws {
        let byAttempt = Dictionary(grouping: report.epochMetrics) { TrialAttemptKey(trialID: $0.trialID, attempt: $0.attempt) }
        let curves = report.trials.compactMap { trial -> SweepReplay.Curve? in
            let last = byAttempt.keys.filter { $0.trialID == trial.id }.map(\.attempt).max()
            guard let last, let epochs = byAttempt[TrialAttemptKey(trialID: trial.id, attempt: last)]?.sorted(by: { $0.epoch < $1.epoch }),
                  !epochs.isEmpty else { return nil }
            return SweepReplay.Curve(slot: EarlyStopping.Slot(point: trial.gridPointID, fold: trial.fold,
                                                              seed: Int(truncatingIfNeeded: trial.seed)),
                                     metrics: epochs.map(\.uar), seconds: epochs.map(\.seconds))
        }
        let replay = SweepReplay(curves: curves, workers: workers)
        let full = replay.run(stopping: nil)
        let fullOrder = Self.order(full, curves: curves)
        points = Set(curves.map(\.slot.point)).count
        trials = curves.count
        rows = ([("full", nil)] + rules.map { ($0.name, Optional($0.1)) }).map { name, rule in
            let outcome = rule.map { replay.run(stopping: $0) } ?? full
            return Row(name: name, epochs: outcome.epochs, wallSeconds: outcome.wallSeconds,
                       stoppedPoints: outcome.stopped.count, best: outcome.best, sameBest: outcome.best == full.best,
                       rankCorrelation: Self.spearman(fullOrder, Self.order(outcome, curves: curves)))
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
