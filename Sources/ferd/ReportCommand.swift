import ArgumentParser
import FerdLeaderboard
import FerdReport
import Foundation
import Logging

/// `ferd report`: the papers' UAR/WAR tables for one experiment of a leaderboard database.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print an experiment's leaderboard, per-fold, per-class, pivot and ablation tables.",
        discussion: "Folds are scored from the stored per-epoch confusion matrices: at the best test epoch (the "
            + "field's protocol, optimistic) or, with --select last-epoch, at the last epoch. See docs/REPORT.md."
    )

    @Option(help: "The leaderboard database file.")
    var db: String

    @Option(help: "The experiment's name or id (default: the newest).")
    var experiment: String?

    @Option(help: "Output format: text, md, csv, json or html.")
    var format: String = "text"

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    @Option(help: "Which epoch scores a fold: best-epoch or last-epoch.")
    var select: String = EpochSelection.bestEpoch.rawValue

    @Option(help: "The metric that picks the best epoch: war (as the reference code) or uar.")
    var bestBy: String = ReportMetric.war.rawValue

    @Option(help: "Order grid points by uar or war.")
    var sort: String = ReportMetric.uar.rawValue

    @Option(help: "The pivot's row and column parameters, e.g. λ,r or attention,lambda (default: λ,r if swept).")
    var pivot: String?

    init() {}

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else { throw ValidationError("--format must be text, md, csv, json or html") }
        guard EpochSelection(rawValue: select) != nil else { throw ValidationError("--select must be best-epoch or last-epoch") }
        guard ReportMetric(rawValue: bestBy) != nil else { throw ValidationError("--best-by must be uar or war") }
        guard ReportMetric(rawValue: sort) != nil else { throw ValidationError("--sort must be uar or war") }
        if let pivot, pivotPair(pivot) == nil {
            throw ValidationError("--pivot must name two parameters separated by a comma, e.g. --pivot λ,r")
        }
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        guard FileManager.default.fileExists(atPath: db) else { throw CommandError("no database at \(db)") }
        let options = ReportOptions(selection: EpochSelection(rawValue: select) ?? .bestEpoch,
                                    bestEpochMetric: ReportMetric(rawValue: bestBy) ?? .war,
                                    sortMetric: ReportMetric(rawValue: sort) ?? .uar, pivot: pivot.flatMap(pivotPair))
        let output: String
        do {
            let leaderboard = try Leaderboard(path: db, logger: Logger(label: "ferd.report"))
            let data = try ReportBuilder.build(try ExperimentLookup.load(leaderboard, selector: experiment),
                                               options: options)
            let style = out == nil ? TextStyle.detect() : TextStyle.detect(descriptor: -1)
            output = (ReportFormat(rawValue: format) ?? .text).render(data, style: style)
        } catch let error as ReportError {
            throw CommandError(error.description)
        }
        if let out {
            try output.write(toFile: out, atomically: true, encoding: .utf8)
        } else {
            print(output, terminator: "")
        }
    }

    private func pivotPair(_ text: String) -> (rows: String, columns: String)? {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }
}
