import FerdLeaderboard

/// Finds the experiment a report is about and reads its records.
public enum ExperimentLookup {
    /// The records of the experiment whose id or name is `selector` (the newest of that name), or of the
    /// newest experiment when `selector` is nil.
    public static func load(_ leaderboard: Leaderboard, selector: String?) throws -> ExperimentReport {
        let experiments = try leaderboard.experiments()
        guard !experiments.isEmpty else { throw ReportError.emptyDatabase(path: leaderboard.path) }
        let match: Experiment? = if let selector {
            experiments.last { $0.name == selector } ?? Int(selector).flatMap { id in experiments.first { $0.id == id } }
        } else {
            experiments.last
        }
        guard let match, let report = try leaderboard.report(experimentID: match.id) else {
            throw ReportError.unknownExperiment(selector ?? "", available: experiments.map { "\($0.id) \($0.name)" })
        }
        return report
    }
}
