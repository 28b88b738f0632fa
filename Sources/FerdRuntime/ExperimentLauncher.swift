import FerdCluster
import FerdData
import FerdExperiment
import FerdLeaderboard
import Foundation

/// Puts an experiment into the leaderboard and lists the trials still to run. Submitting the same
/// file again finds the same experiment (by content hash) and re-queues only what is not DONE.
public enum ExperimentLauncher {
    /// The experiment's row and the trials the coordinator should schedule.
    public struct Plan {
        public var experiment: Experiment
        public var created: Bool
        public var trials: [Scheduler.TrialSpec]
        /// Trials DONE or STOPPED before (a resumed experiment).
        public var alreadyDone: Int
        /// What the scheduler must know before the trials of a resumed experiment: the stored curves of the current
        /// attempts, early-stopping decisions and the epochs and training time spent.
        public var restore: Scheduler.Event
        /// How the experiment's points were chosen: strategy, samples, duplicates dropped, points.
        public var search: SearchPoints
    }

    /// Stores `definition`'s trials (all of them, before any is handed out) and returns those to run.
    /// With `forceNew` a new experiment is made even when the same file was submitted before.
    public static func plan(_ definition: ExperimentDefinition, leaderboard: Leaderboard, data: DataSource,
                            forceNew: Bool, now: Date = Date()) throws -> Plan {
        let planned = try definition.trials()
        let hash = forceNew ? definition.contentHash + "-" + String(Int(now.timeIntervalSince1970 * 1000)) : definition.contentHash
        let (experiment, created) = try leaderboard.findOrCreateExperiment(name: definition.name, contentHash: hash,
                                                                           config: definition.source, at: now)
        let plans = planned.map { trial in
            TrialPlan(paramsJSON: ExperimentDefinition.canonical(trial.parameters), fold: trial.fold, seed: trial.settings.seed)
        }
        let ids = try leaderboard.insertTrials(experimentID: experiment.id, plans: plans, at: now)
        let records = Dictionary(uniqueKeysWithValues: try leaderboard.trials(experimentID: experiment.id).map { ($0.id, $0) })
        let restore = try history(of: experiment.id, records: records, leaderboard: leaderboard, planned: zip(ids, planned),
                                  byWAR: definition.policy.stopping?.metric == "war")
        var specs: [Scheduler.TrialSpec] = []
        var done = 0
        for (id, trial) in zip(ids, planned) {
            guard let record = records[id] else { continue }
            if record.state == .done || record.state == .stopped {
                done += 1
                continue
            }
            let gang = definition.workersPerTrial
            let configuration = TrialConfiguration(settings: trial.settings, fold: trial.fold, data: data,
                                                   parameters: ExperimentDefinition.canonical(trial.parameters),
                                                   workersPerTrial: gang > 1 ? gang : nil,
                                                   dataParallel: gang > 1 ? definition.dataParallel : nil,
                                                   engine: definition.engine == EngineSettings() ? nil : definition.engine,
                                                   initWeights: definition.initWeights)
            let resume = record.resume.flatMap { stored in
                FileManager.default.fileExists(atPath: stored.path)
                    ? ResumePoint(epoch: stored.epoch, checkpoint: CheckpointDescriptor(size: stored.size, sha256: stored.sha256))
                    : nil
            }
            let runningOn = record.state == .running && (record.gangSize ?? 1) == 1
                ? record.worker.map { Scheduler.Reattachment(worker: $0, attempt: record.attempts) } : nil
            specs.append(Scheduler.TrialSpec(id: id, configJSON: configuration.json(), attemptsSoFar: record.attempts,
                                             resume: resume, workersPerTrial: gang,
                                             minWorkers: definition.dataParallel.minWorkers, runningOn: runningOn,
                                             engine: requiredEngine(definition.engine.choice),
                                             slot: slot(record, trial)))
        }
        return Plan(experiment: experiment, created: created, trials: specs, alreadyDone: done, restore: restore,
                    search: definition.search.expand())
    }

    /// The early-stopping unit of a trial: its grid point (the stored id), fold and seed.
    static func slot(_ record: TrialRecord, _ trial: PlannedTrial) -> EarlyStopping.Slot {
        EarlyStopping.Slot(point: record.gridPointID, fold: trial.fold, seed: trial.seedIndex)
    }

    /// The stored curves of the trials' current attempts, the stored stop decisions and what was spent.
    static func history(of experimentID: Int, records: [Int: TrialRecord], leaderboard: Leaderboard,
                        planned: some Sequence<(Int, PlannedTrial)>, byWAR: Bool) throws -> Scheduler.Event {
        let metrics = try leaderboard.epochMetrics(experimentID: experimentID)
        var curves: [EarlyStopping.Slot: [Double]] = [:]
        var decisions: [EarlyStopping.Decision] = []
        for (id, trial) in planned {
            guard let record = records[id] else { continue }
            let current = metrics.filter { $0.trialID == id && $0.attempt == record.attempts }.sorted { $0.epoch < $1.epoch }
            if !current.isEmpty { curves[slot(record, trial)] = current.map { byWAR ? $0.war : $0.uar } }
            if let stop = record.stop, !decisions.contains(where: { $0.point == record.gridPointID }) {
                decisions.append(EarlyStopping.Decision(point: record.gridPointID, epoch: stop.epoch, reason: stop.reason))
            }
        }
        let spent = Scheduler.Spending(epochs: metrics.count, trialSeconds: metrics.reduce(0) { $0 + $1.seconds })
        return .restore(curves: curves, decisions: decisions, spent: spent)
    }

    /// The workers' engine that can run trials of `choice` (nil: any).
    static func requiredEngine(_ choice: EngineSettings.Choice) -> TrainingEngine? {
        switch choice {
        case .any: nil
        case .swift: .swift
        case .torch, .command: .torch
        }
    }
}
