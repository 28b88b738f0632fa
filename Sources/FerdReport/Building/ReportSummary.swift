/// The one-line description of what a report covers, shared by every format.
enum ReportSummary {
    /// "8 grid points · 24 trials: 21 DONE, 3 QUEUED · 21 folds scored · best epoch by WAR · sorted by UAR".
    static func line(_ data: ReportData) -> String {
        let trials = data.trialStates.reduce(0) { $0 + $1.count }
        let states = data.trialStates.map { "\($0.count) \($0.state)" }.joined(separator: ", ")
        let selection = data.options.selection == .bestEpoch
            ? "best epoch by \(data.options.bestEpochMetric.label)" : "last epoch"
        return "\(count(data.points.count + data.stopped.count, "grid point")) · \(count(trials, "trial"))\(states.isEmpty ? "" : ": \(states)") · "
            + "\(count(data.scoredFolds, "fold")) scored · \(selection) · sorted by \(data.options.sortMetric.label)"
            + (data.budgetNotice.map { " · \($0)" } ?? "")
    }

    private static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
