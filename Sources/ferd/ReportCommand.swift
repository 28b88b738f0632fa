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

    @OptionGroup var database: DatabaseOption

    @Option(help: "The experiment's name or id (default: the newest).")
    var experiment: String?

    @Option(help: "Output format: text, md, csv, json or html.")
    var format: ReportFormat = .text

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    @Option(help: "Which epoch scores a fold: best-epoch or last-epoch.")
    var select: EpochSelection = .bestEpoch

    @Option(help: "The metric that picks the best epoch: war (as the reference code) or uar.")
    var bestBy: ReportMetric = .war

    @Option(help: "Order grid points by uar or war.")
    var sort: ReportMetric = .uar

    @Option(help: "The dataset whose published results the method comparison shows: DFEW, FERV39k or RAF-DB (default: from the experiment file).")
    var dataset: PublishedDataset?

    @Option(help: "The pivot's row and column parameters, e.g. λ,r or attention,lambda (default: λ,r if swept).")
    var pivot: String?

    init() {}

    func validate() throws {
        if let pivot, pivotPair(pivot) == nil {
            throw ValidationError("--pivot must name two parameters separated by a comma, e.g. --pivot λ,r")
        }
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        guard FileManager.default.fileExists(atPath: database.db) else {
            throw CommandError("no database at \(database.db); give the coordinator's --db")
        }
        let options = ReportOptions(selection: select, bestEpochMetric: bestBy, sortMetric: sort, pivot: pivot.flatMap(pivotPair),
                                    dataset: dataset)
        let output: String
        do {
            let leaderboard = try Leaderboard(path: database.db, logger: Logger(label: "ferd.report"))
            let data = try ReportBuilder.build(try ExperimentLookup.load(leaderboard, selector: experiment),
                                               options: options)
            let style = out == nil ? TextStyle.detect() : TextStyle.detect(descriptor: -1)
            output = format.render(data, style: style)
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

extension ReportFormat: ExpressibleByArgument {}
extension EpochSelection: ExpressibleByArgument {}
