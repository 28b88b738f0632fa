import FerdLeaderboard
import Foundation

/// Where a sweep stands, from the leaderboard alone (records in, numbers and lines out; no clock): the epochs
/// done of all its trials' epochs, the pace measured from the stored epochs and the time left, and each running
/// trial's fold, grid point, epoch k/n, loss and UAR so far. The coordinator's progress display shows it.
public struct SweepProgress: Sendable, Equatable {
    /// A RUNNING trial and the last epoch its current attempt stored.
    public struct RunningTrial: Sendable, Equatable {
        public var trialID: Int
        public var fold: Int
        /// The grid values that differ between the experiment's grid points, such as `lambda=0.1`.
        public var parameters: String
        public var worker: String
        /// The last stored epoch of the current attempt; nil before its first.
        public var epoch: Int?
        public var epochs: Int
        public var trainLoss: Double?
        public var uar: Double?
    }

    /// A DONE or FAILED trial and, when DONE, its result.
    public struct FinishedTrial: Sendable, Equatable {
        public var trialID: Int
        public var fold: Int
        public var parameters: String
        public var state: TrialState
        public var bestEpoch: Int?
        public var uar: Double?
    }

    public var trials: Int
    public var done: Int
    public var running: Int
    /// QUEUED and LOST (waiting to run again).
    public var waiting: Int
    public var failed: Int
    /// Epochs of DONE trials in full, and the stored epochs of the other trials' current attempts.
    public var epochsDone: Int
    /// Every planned epoch of the trials that have not failed.
    public var epochsTotal: Int
    /// The median duration of the stored epochs; nil before the first.
    public var secondsPerEpoch: Double?
    public var runningTrials: [RunningTrial]
    public var finishedTrials: [FinishedTrial]

    public init(trials records: [TrialRecord], gridPoints: [GridPoint], epochMetrics: [EpochMetricRecord],
                results: [ResultRecord] = []) {
        let parameters = Self.parameters(gridPoints)
        let planned = Dictionary(uniqueKeysWithValues: gridPoints.map { ($0.id, parameters[$0.id]?.epochs ?? 0) })
        let latest = Dictionary(epochMetrics.map { ($0.trialID, $0) }, uniquingKeysWith: { earlier, later in
            (later.attempt, later.epoch) >= (earlier.attempt, earlier.epoch) ? later : earlier
        })
        trials = records.count
        done = records.filter { $0.state == .done }.count
        running = records.filter { $0.state == .running }.count
        waiting = records.filter { $0.state == .queued || $0.state == .lost }.count
        failed = records.filter { $0.state == .failed }.count
        var epochsDone = 0, epochsTotal = 0
        var runningTrials: [RunningTrial] = []
        for trial in records where trial.state != .failed {
            let epochs = planned[trial.gridPointID] ?? 0
            let current = latest[trial.id].flatMap { $0.attempt == trial.attempts ? $0 : nil }
            epochsTotal += epochs
            epochsDone += trial.state == .done ? epochs : min(current?.epoch ?? 0, epochs)
            if trial.state == .running {
                runningTrials.append(RunningTrial(
                    trialID: trial.id, fold: trial.fold, parameters: parameters[trial.gridPointID]?.text ?? "",
                    worker: trial.worker ?? "–", epoch: current?.epoch, epochs: epochs, trainLoss: current?.trainLoss,
                    uar: current?.uar))
            }
        }
        self.epochsDone = epochsDone
        self.epochsTotal = epochsTotal
        self.runningTrials = runningTrials
        let best = Dictionary(results.map { ($0.trialID, $0) }, uniquingKeysWith: { _, later in later })
        finishedTrials = records.filter { $0.state == .done || $0.state == .failed }.map { trial in
            FinishedTrial(trialID: trial.id, fold: trial.fold, parameters: parameters[trial.gridPointID]?.text ?? "",
                          state: trial.state, bestEpoch: best[trial.id]?.bestEpoch, uar: best[trial.id]?.uar)
        }
        let durations = epochMetrics.map(\.seconds).filter { $0 > 0 }.sorted()
        secondsPerEpoch = durations.isEmpty ? nil : durations[durations.count / 2]
    }

    /// The time left: the epochs left at the measured pace, as many at once as trials run (at least one); nil
    /// until an epoch has been measured.
    public var remainingSeconds: Double? {
        guard let secondsPerEpoch else { return nil }
        return Double(max(0, epochsTotal - epochsDone)) * secondsPerEpoch / Double(max(1, running))
    }

    /// The trial counts in words, such as `trials 1/4 done, 2 running, 1 waiting`.
    public var trialSummary: String {
        "trials \(done)/\(trials) done, \(running) running, \(waiting) waiting"
            + (failed > 0 ? ", \(failed) failed" : "")
    }

    /// One running trial in words, such as `trial 3 (fold 2, lambda=0.1) on w1: epoch 4/6, loss 1.234, UAR 41.2%`.
    public static func describe(_ trial: RunningTrial) -> String {
        let point = trial.parameters.isEmpty ? "fold \(trial.fold)" : "fold \(trial.fold), \(trial.parameters)"
        let head = "trial \(trial.trialID) (\(point)) on \(trial.worker)"
        guard let epoch = trial.epoch else { return head + ": started, no epoch yet" }
        let loss = trial.trainLoss.map { String(format: ", loss %.3f", $0) } ?? ""
        let uar = trial.uar.map { String(format: ", UAR %.1f%%", $0 * 100) } ?? ""
        return head + ": epoch \(epoch)/\(trial.epochs)\(loss)\(uar)"
    }

    /// One finished trial in words, such as `trial 3 (fold 2, lambda=0.1): DONE, best epoch 9, UAR 65.7%`.
    public static func describe(_ trial: FinishedTrial) -> String {
        let point = trial.parameters.isEmpty ? "fold \(trial.fold)" : "fold \(trial.fold), \(trial.parameters)"
        let best = trial.bestEpoch.map { epoch in
            ", best epoch \(epoch)" + (trial.uar.map { String(format: ", UAR %.1f%%", $0 * 100) } ?? "")
        } ?? ""
        return "trial \(trial.trialID) (\(point)): \(trial.state.rawValue)\(best)"
    }

    /// Each grid point's label: the values that differ between the grid points, such as `lambda=0.1, lr=0.01`.
    public static func labels(of gridPoints: [GridPoint]) -> [Int: String] {
        parameters(gridPoints).mapValues(\.text)
    }

    /// Each grid point's planned epochs and the text of the values that differ between the grid points.
    private static func parameters(_ gridPoints: [GridPoint]) -> [Int: (epochs: Int, text: String)] {
        let decoded = gridPoints.map { point in
            (point.id, (try? JSONSerialization.jsonObject(with: Data(point.paramsJSON.utf8))) as? [String: Any] ?? [:])
        }
        let keys = Set(decoded.flatMap { $0.1.keys })
        // A key only some points have (a method's own key) varies when those points differ in it; points without it
        // leave it out of their text.
        let varying = keys.filter { key in Set(decoded.compactMap { $0.1[key].map { "\($0)" } }).count > 1 }.sorted()
        return Dictionary(uniqueKeysWithValues: decoded.map { id, values in
            let epochs = (values["epochs"] as? NSNumber)?.intValue ?? 0
            return (id, (epochs, varying.compactMap { key in values[key].map { "\(key)=\($0)" } }.joined(separator: ", ")))
        })
    }
}
