import ArgumentParser
import FerdCluster
import FerdLeaderboard
import FerdReport
import FerdRuntime
import Foundation
import Logging

/// `ferd replay`: what early stopping would have done to a finished sweep, from its stored learning curves.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a finished sweep's learning curves under each early-stopping rule: epochs, time, best point, ranking.",
        discussion: "Simulated workers report each trial's stored metrics after the stored epoch times, through the coordinator's own scheduler, so the rules can be tried on a sweep before the next one uses them (docs/SWEEPS.md).")

    @OptionGroup var database: DatabaseOption
    @Option(help: "Experiment id or name (default: the newest).") var experiment: String?
    @Option(help: "Simulated workers, one trial each.") var workers: Int = 2
    @Option(name: .customLong("min-epochs"), help: "The first epoch a point may be stopped (median) or the first rung (asha).")
    var minEpochs: Int = 2
    @Option(help: "The fewest other grid points that must have reached an epoch on a fold before that fold counts.")
    var grace: Int = 2
    @Option(name: .customLong("reduction-factor"), help: "ASHA's η: the top 1/η continue at each rung.")
    var reductionFactor: Int = 3
    @Option(help: "Orders of the grid points to replay: the sweep's own, then shuffled ones (a rule can only stop a point worse than those run before it).")
    var orders: Int = 20
    @Option(help: "Seed of the shuffled orders.") var seed: UInt64 = 0

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard minEpochs >= 1, grace >= 1 else { throw ValidationError("--min-epochs and --grace must be at least 1") }
        guard reductionFactor >= 2 else { throw ValidationError("--reduction-factor must be at least 2") }
        guard orders >= 1 else { throw ValidationError("--orders must be at least 1") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: database.db) else {
            throw CommandError("\(database.db) does not exist; give the coordinator's --db")
        }
        let leaderboard = try Leaderboard(path: database.db, logger: Logger(label: "ferd.replay"))
        let report = try ExperimentLookup.load(leaderboard, selector: experiment)
        let rules = EarlyStopping.Rule.allCases.map { rule in
            (rule.rawValue, EarlyStopping.Configuration(rule: rule, minEpochs: minEpochs, grace: grace,
                                                        reductionFactor: reductionFactor))
        }
        let comparison = try SweepComparison(report, workers: workers, rules: rules, orders: orders, seed: seed)
        guard comparison.trials > 0 else { throw CommandError("experiment \(report.experiment.id) has no stored epochs to replay") }
        let labels = SweepProgress.labels(of: report.gridPoints)
        print("experiment \(report.experiment.id) \"\(report.experiment.name)\": \(comparison.points) grid points, "
              + "\(comparison.trials) trials replayed on \(workers) workers in \(orders) orders of the points "
              + "(min_epochs \(minEpochs), grace \(grace), η \(reductionFactor)); the full sweep's best: "
              + "\(comparison.best.flatMap { labels[$0] } ?? "–")")
        let full = comparison.rows[0]
        let rows = [["rule", "epochs", "share", "time", "points stopped", "best kept", "regret (pp)", "rank ρ"]]
            + comparison.rows.map { row in
                [row.name, String(format: "%.1f", row.epochs), String(format: "%.0f%%", 100 * row.epochs / max(1, full.epochs)),
                 ProgressReporter.duration(row.wallSeconds), String(format: "%.1f", row.stoppedPoints),
                 String(format: "%.0f%%", 100 * row.sameBest), String(format: "%.2f", 100 * row.regret),
                 String(format: "%.3f", row.rankCorrelation)]
            }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).enumerated().map { index, cell in
                let padding = String(repeating: " ", count: cell.1 - cell.0.count)
                return index == 0 ? cell.0 + padding : padding + cell.0
            }.joined(separator: "  "))
        }
    }
}
