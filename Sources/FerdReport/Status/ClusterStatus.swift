import FerdLeaderboard
import Foundation

/// What `ferd status` shows of a leaderboard: per experiment the trial counts, the running trials with their
/// progress, and what data-parallel trials cost per step; then the workers and how recently each was heard, and the
/// messages the coordinator and the gradient hub dropped, by peer and kind.
public struct ClusterStatus: Sendable {
    /// One experiment's stored state.
    public struct ExperimentState: Sendable {
        public var experiment: Experiment
        public var trials: [TrialRecord]
        /// Ordered by trial, attempt and epoch (as `Leaderboard.epochMetrics` returns them).
        public var epochMetrics: [EpochMetricRecord]
        /// What the coordinator said when the budget was spent; nil while it lasts.
        public var budgetNotice: String?
        /// The grid points, for the epochs each trial trains (`epochs` in its parameters); may be left empty.
        public var gridPoints: [GridPoint]

        /// The sweep's progress as the coordinator shows it (epochs done of planned, each running trial's epoch k/n).
        public var progress: SweepProgress {
            SweepProgress(trials: trials, gridPoints: gridPoints, epochMetrics: epochMetrics)
        }

        public init(experiment: Experiment, trials: [TrialRecord], epochMetrics: [EpochMetricRecord],
                    gridPoints: [GridPoint] = [], budgetNotice: String? = nil) {
            self.experiment = experiment
            self.trials = trials
            self.epochMetrics = epochMetrics
            self.gridPoints = gridPoints
            self.budgetNotice = budgetNotice
        }

    }

    public var experiments: [ExperimentState]
    public var workers: [WorkerRecord]
    /// The largest first (as `Leaderboard.droppedMessages` returns them).
    public var droppedMessages: [DroppedMessagesRecord]

    /// The most dropped-message rows shown; the rest are summed in one line.
    static let droppedRowsShown = 10

    public init(experiments: [ExperimentState], workers: [WorkerRecord], droppedMessages: [DroppedMessagesRecord] = []) {
        self.experiments = experiments
        self.workers = workers
        self.droppedMessages = droppedMessages
    }

    /// The status as text, `now` being the time heartbeats are aged against.
    public func render(now: Date, style: TextStyle) -> String {
        let renderer = TextRenderer(style: style)
        var lines: [String] = []
        for state in experiments {
            let trials = state.trials
            let counts = TrialState.allCases.map { kind in "\(kind.rawValue) \(trials.filter { $0.state == kind }.count)" }
            lines.append("#\(state.experiment.id) \(state.experiment.name): \(trials.count) trials — "
                         + counts.joined(separator: ", "))
            if let notice = state.budgetNotice { lines.append("  \(notice)") }
            let latest = Self.latestEpochs(state.epochMetrics)
            for table in [Self.runningTable(state, latest: latest), Self.gangTable(state, latest: latest),
                          Self.backOffTable(state, now: now)] {
                if let table { lines += [""] + renderer.render(table) + [""] }
            }
        }
        if experiments.isEmpty { lines.append("no experiments yet") }
        if !workers.isEmpty { lines.append("workers:") }
        for worker in workers {
            let age = String(format: "%.0f s ago", now.timeIntervalSince(worker.lastHeartbeat))
            let dropped = worker.droppedMessages > 0 ? ", \(worker.droppedMessages) of its messages dropped" : ""
            lines.append("  \(worker.id): \(worker.cores) cores, \(worker.slots) slots, \(worker.backend), "
                         + "last heartbeat \(age)\(dropped)")
        }
        if let table = droppedTable(now: now) { lines += [""] + renderer.render(table) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The workers as a table: their devices (the engine and its devices as the worker reported them), slots and
    /// how recently each was heard.
    func workersTable(now: Date) -> ReportTable {
        let rows: [[ReportTable.Cell]] = workers.map { worker in
            [.init(worker.id), .init(worker.host), .init(worker.backend), .init("\(worker.cores)"), .init("\(worker.slots)"),
             .init(String(format: "%.0f s ago", now.timeIntervalSince(worker.lastHeartbeat))),
             .init("\(worker.droppedMessages)")]
        }
        return ReportTable(id: "workers", title: "Workers",
                           columns: [.init("worker", .left), .init("host", .left), .init("engine and devices", .left),
                                     .init("cores"), .init("slots"), .init("last heartbeat"), .init("dropped")],
                           rows: rows, rulesBefore: [], emptyMessage: "no worker has connected yet",
                           notes: ["dropped: messages from the worker the coordinator dropped (docs/PROTOCOL.md)."])
    }

    func droppedTable(now: Date) -> ReportTable? {
        guard !droppedMessages.isEmpty else { return nil }
        var rows: [[ReportTable.Cell]] = droppedMessages.prefix(Self.droppedRowsShown).map { record in
            [.init(record.endpoint), .init(record.peer), .init(record.address ?? "–"), .init(record.kind),
             .init("\(record.count)"), .init(String(format: "%.0f s ago", now.timeIntervalSince(record.lastTime)))]
        }
        let rest = droppedMessages.dropFirst(Self.droppedRowsShown)
        if !rest.isEmpty {
            rows.append([.init("\(rest.count) more"), .init(""), .init(""), .init(""),
                         .init("\(rest.reduce(0) { $0 + $1.count })"), .init("")])
        }
        return ReportTable(id: "dropped", title: "Dropped messages",
                           columns: [.init("endpoint", .left), .init("peer", .left), .init("address", .left),
                                     .init("kind", .left), .init("count"), .init("last")],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["Messages that broke the protocol, or came from a peer while it was ignored (kind "
                                   + "ignored), by peer; see \"Bad traffic\" in docs/PROTOCOL.md."])
    }

    /// Each trial's last stored epoch of its latest attempt: the last of its metrics, which come ordered by
    /// trial, attempt and epoch.
    static func latestEpochs(_ metrics: [EpochMetricRecord]) -> [Int: EpochMetricRecord] {
        Dictionary(metrics.map { ($0.trialID, $0) }, uniquingKeysWith: { _, later in later })
    }

    static func runningTable(_ state: ExperimentState, latest: [Int: EpochMetricRecord]) -> ReportTable? {
        let running = state.trials.filter { $0.state == .running }
        guard !running.isEmpty else { return nil }
        let planned = Dictionary(state.progress.runningTrials.map { ($0.trialID, $0.epochs) }, uniquingKeysWith: { a, _ in a })
        let rows: [[ReportTable.Cell]] = running.map { trial in
            let epoch = latest[trial.id].flatMap { $0.attempt == trial.attempts ? $0 : nil }
            let of = planned[trial.id].flatMap { $0 > 0 ? "/\($0)" : nil } ?? ""
            return [.init("\(trial.id)"), .init("\(trial.fold)"), .init("\(trial.attempts)"),
                    .init(trial.worker ?? "–"), .init(epoch.map { "\($0.epoch)\(of)" } ?? "–"),
                    .init(epoch.map { String(format: "%.3f", $0.trainLoss) } ?? "–"),
                    .init(MetricFormat.percent(epoch?.uar)), .init(epoch.map { String(format: "%.1f", $0.seconds) } ?? "–")]
        }
        return ReportTable(id: "running-\(state.experiment.id)", title: "Running",
                           columns: [.init("trial"), .init("fold"), .init("attempt"), .init("worker(s)", .left),
                                     .init("epoch"), .init("loss"), .init("UAR %"), .init("s/epoch")],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["epoch: the last epoch the attempt reported (of the epochs it trains, when its grid "
                                   + "point says); loss: its training loss; UAR of that epoch on the test fold."])
    }

    /// Trials waiting out a back-off (a gang that did not form or broke), with when they try again and why.
    static func backOffTable(_ state: ExperimentState, now: Date) -> ReportTable? {
        let waiting = state.trials.filter { trial in
            !trial.state.isFinal && trial.state != .running && (trial.retry.map { $0.after > now } ?? false)
        }
        guard !waiting.isEmpty else { return nil }
        let rows: [[ReportTable.Cell]] = waiting.map { trial in
            [.init("\(trial.id)"), .init(trial.state.rawValue),
             .init(String(format: "in %.0f s", trial.retry!.after.timeIntervalSince(now))), .init(trial.retry!.reason)]
        }
        return ReportTable(id: "backoff-\(state.experiment.id)", title: "Waiting to retry",
                           columns: [.init("trial"), .init("state", .left), .init("next try"), .init("why", .left)],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["A gang trial whose gang did not form or broke waits before its next try, twice as long "
                                   + "after each failure in a row (docs/DATA-PARALLEL.md)."])
    }

    static func gangTable(_ state: ExperimentState, latest: [Int: EpochMetricRecord]) -> ReportTable? {
        let trials = state.trials.filter { trial in trial.gangSize != nil || latest[trial.id]?.gang != nil }
        guard !trials.isEmpty else { return nil }
        let rows: [[ReportTable.Cell]] = trials.map { trial in
            let epoch = latest[trial.id]
            let cost = epoch?.gang
            let share = cost.flatMap { $0.stepSeconds > 0 ? $0.communicationSeconds / $0.stepSeconds : nil }
            return [.init("\(trial.id)"), .init(trial.state.rawValue),
                    .init((cost?.members ?? trial.gangSize).map { "\($0)" } ?? "–"),
                    .init(trial.learningRateScale.map { String(format: "×%.3g", $0) } ?? "×1"),
                    .init(epoch.map { "\($0.epoch)" } ?? "–"),
                    .init(cost.map { String(format: "%.3f", $0.stepSeconds) } ?? "–"),
                    .init(cost.map { String(format: "%.3f", $0.communicationSeconds) } ?? "–"),
                    .init(share.map { String(format: "%.0f%%", $0 * 100) } ?? "–"),
                    .init(cost.map { String(format: "%.2f", $0.bytesPerStep / 1_000_000) } ?? "–")]
        }
        return ReportTable(id: "gangs-\(state.experiment.id)", title: "Data-parallel trials (last reported epoch)",
                           columns: [.init("trial"), .init("state", .left), .init("members"), .init("lr"),
                                     .init("epoch"), .init("s/step"), .init("comm s/step"), .init("comm"),
                                     .init("MB sent/step")],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["s/step: rank 0's training time per step (evaluation not included); comm s/step: time its communication "
                                   + "thread spent exchanging gradients per step (much of it overlaps the backward "
                                   + "pass); comm: that as a share of the step; MB sent/step: what rank 0 sent per "
                                   + "step; lr: the learning-rate factor of a gang smaller than asked for."])
    }
}
