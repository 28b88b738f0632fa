import FerdLeaderboard
import Foundation

/// What `ferd dashboard` shows at one moment: the status of every experiment and worker, and the report of the
/// chosen experiment, read from one committed state of the leaderboard and labelled with that state's version.
public struct DashboardSnapshot: Sendable {
    /// Identifies the leaderboard state the snapshot was read from; the page asks for changes since it.
    public var version: String
    /// When it was read: heartbeats are aged against it.
    public var time: Date
    public var databasePath: String
    public var status: ClusterStatus
    /// The chosen experiment's report; nil when there is none (yet), with `reportProblem` saying why.
    public var report: ReportData?
    public var reportProblem: String?

    public init(version: String, time: Date, databasePath: String, status: ClusterStatus, report: ReportData?,
                reportProblem: String? = nil) {
        self.version = version
        self.time = time
        self.databasePath = databasePath
        self.status = status
        self.report = report
        self.reportProblem = reportProblem
    }

    /// Reads a snapshot in one read transaction of `leaderboard`. `experiment` chooses the report's experiment
    /// as `ferd report --experiment` does (nil: the newest); a database without it yet is shown with a note.
    public static func read(_ leaderboard: Leaderboard, experiment: String?, options: ReportOptions, version: String,
                            now: Date) throws -> DashboardSnapshot {
        try leaderboard.snapshot {
            let experiments = try leaderboard.experiments().map { experiment in
                ClusterStatus.ExperimentState(experiment: experiment,
                                              trials: try leaderboard.trials(experimentID: experiment.id),
                                              epochMetrics: try leaderboard.epochMetrics(experimentID: experiment.id),
                                              gridPoints: try leaderboard.gridPoints(experimentID: experiment.id))
            }
            let status = ClusterStatus(experiments: experiments, workers: try leaderboard.workers(),
                                       droppedMessages: try leaderboard.droppedMessages())
            var report: ReportData?
            var problem: String?
            do {
                report = try ReportBuilder.build(try ExperimentLookup.load(leaderboard, selector: experiment),
                                                 options: options)
            } catch let error as ReportError {
                problem = error.description
            }
            return DashboardSnapshot(version: version, time: now, databasePath: leaderboard.path, status: status,
                                     report: report, reportProblem: problem)
        }
    }
}
