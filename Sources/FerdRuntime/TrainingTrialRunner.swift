import FerdCluster
import FerdData
import FerdDigest
import FerdTensor
import FerdTraining
import Foundation
import Logging

/// Runs an assigned trial with the real trainer on this machine: one fold, the settings from the
/// coordinator, the run folder under `workDirectory/trial-<id>/attempt-<n>`.
///
/// `cancelled` is the trainer's `shouldStop`, which it checks between steps and right after each epoch's
/// report: the worker's graceful stop (`ferd worker`'s first SIGTERM/SIGINT) turns it true only once the running
/// epoch has been reported (`TrialThreads.finishEpochs`), an immediate stop or a CANCEL at once. A stopped
/// attempt that did not complete fails, retryable, so the coordinator queues it again.
public struct TrainingTrialRunner: TrialRunner {
    public let workDirectory: URL
    /// Replaces the data root the coordinator named (the same dataset at another path on this machine).
    public let dataRoot: String?
    public let logger: Logger

    public init(workDirectory: URL, dataRoot: String?, logger: Logger) {
        self.workDirectory = workDirectory
        self.dataRoot = dataRoot
        self.logger = logger
    }

    public func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        try run(trial: trial, resumeFile: nil, report: report, cancelled: cancelled)
    }

    /// Runs the attempt, continuing from `resumeFile` (a `ResumeBundle` fetched from the coordinator) when
    /// given; after every epoch a new bundle is written and offered with the epoch's METRIC.
    public func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
                    cancelled: () -> Bool) throws -> TrialOutcome {
        var configuration = try TrialConfiguration.decode(trial.configJSON)
        if let dataRoot { configuration.data.root = dataRoot }
        var trialLogger = logger
        trialLogger[metadataKey: "trial"] = "\(trial.trialID)"
        let data = try FoldBatches(source: configuration.data, fold: configuration.fold, settings: configuration.settings,
                                   logger: trialLogger)
        let folder = workDirectory.appendingPathComponent("trial-\(trial.trialID)/attempt-\(trial.attempt)")
        try? FileManager.default.removeItem(at: folder)
        if let resumeFile {
            try ResumeBundle.unpack(resumeFile, into: folder)
            try? FileManager.default.removeItem(at: resumeFile)
        }
        let trainer = try Trainer(settings: configuration.settings, runDirectory: folder, resume: resumeFile != nil,
                                  logger: trialLogger)
        trialLogger.info("training", metadata: ["fold": "\(configuration.fold)", "grid": "\(configuration.parameters)",
                                                "from epoch": "\(trainer.completedEpochs + 1)"])
        var bundleError: Error?
        let summary = try trainer.run(data: data, shouldStop: cancelled) { event in
            guard case let .epoch(epoch, _) = event else { return }
            var bundle: CheckpointFile?
            do {
                bundle = try ResumeBundle.write(runFolder: folder, epoch: epoch.epoch)
            } catch {
                bundleError = error
            }
            report(MetricEvent(epoch: epoch.epoch, trainLoss: epoch.trainLoss, uar: epoch.uar, war: epoch.war,
                               learningRate: epoch.learningRate, seconds: epoch.seconds, confusion: epoch.confusion,
                               resumeCheckpoint: bundle))
        }
        if let bundleError {
            trialLogger.warning("could not write a resume checkpoint for the coordinator", metadata: ["error": "\(bundleError)"])
        }
        guard summary.completed, let best = summary.best else {
            return .failed(reason: "interrupted after \(summary.history.count) epochs", retryable: true)
        }
        let checkpointFile = folder.appendingPathComponent("best.safetensors")
        let checkpoint = try Data(contentsOf: checkpointFile)
        var digest = SHA256()
        digest.update(checkpoint)
        return .completed(TrialScores(bestEpoch: best.epoch, uar: best.uar, war: best.war,
                                      perClassRecall: best.recall.map { $0 ?? 0 }, confusion: best.confusion,
                                      checkpointSHA256: digest.hexDigest(), checkpointSize: checkpoint.count,
                                      checkpointFile: checkpointFile))
    }
}
