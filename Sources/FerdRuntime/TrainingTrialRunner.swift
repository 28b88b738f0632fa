import FerdCluster
import FerdCollective
import FerdData
import FerdExperiment
import FerdDigest
import FerdLeaderboard
import FerdTensor
import FerdTraining
import FerdZeroMQ
import FerdSystem
import Foundation
import Logging

/// Runs an assigned trial with the real trainer on this machine: one fold, the settings from the
/// coordinator, the run folder under `workDirectory/trial-<id>/attempt-<n>`.
///
/// `cancelled` is the trainer's `shouldStop`, which it checks between steps and right after each epoch's
/// report: the worker's graceful stop (`ferd worker`'s first SIGTERM/SIGINT) turns it true only once the running
/// epoch has been reported (`TrialThreads.finishEpochs`), an immediate stop or a CANCEL at once. A stopped
/// attempt that did not complete fails, retryable, so the coordinator queues it again; settings that cannot
/// train and a diverged loss fail for good (``TrainingError/isRetryable``), as the torch engine's do.
public struct TrainingTrialRunner: TrialRunner {
    public let workDirectory: URL
    /// Replaces the data root the coordinator named (the same dataset at another path on this machine).
    public let dataRoot: String?
    public let logger: Logger
    /// Where this worker binds its ring socket for gang trials: an address the other members can reach.
    public let ringBindAddress: String
    /// Seconds a gang member waits for a silent peer before the attempt fails.
    public let gangTimeout: Double
    /// ``gangTimeout`` unless `ferd worker --gang-timeout` says otherwise.
    public static let defaultGangTimeout: Double = 60
    /// Told every training and evaluation step of every attempt (from the attempts' threads).
    public let progress: (@Sendable (TrialProgress) -> Void)?
    /// The worker's CURVE keys: a gang member encrypts its hub and ring links with them; nil: unencrypted.
    public let curve: CurveClientKeys?

    public init(workDirectory: URL, dataRoot: String?, logger: Logger, ringBindAddress: String = "tcp://127.0.0.1:*",
                gangTimeout: Double = defaultGangTimeout, progress: (@Sendable (TrialProgress) -> Void)? = nil,
                curve: CurveClientKeys? = nil) {
        self.curve = curve
        self.workDirectory = workDirectory
        self.dataRoot = dataRoot
        self.logger = logger
        self.ringBindAddress = ringBindAddress
        self.gangTimeout = gangTimeout
        self.progress = progress
    }

    public func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        try run(trial: trial, resumeFile: nil, report: report, cancelled: cancelled, aborted: { false })
    }

    /// Runs the attempt, continuing from `resumeFile` (a `ResumeBundle` fetched from the coordinator) when
    /// given; after every epoch but the last (which ends the attempt with its RESULT) a new bundle is written
    /// and offered with the epoch's METRIC.
    public func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
                    cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        // A trial this worker cannot read (another ferd version) throws: a worker of the right version may run it.
        let configuration = try TrialConfiguration.decode(trial.configJSON)
        do {
            return try train(trial: trial, configuration: configuration, resumeFile: resumeFile, report: report,
                             cancelled: cancelled, aborted: aborted)
        } catch let error as TrainingError where !error.isRetryable {
            return .failed(reason: "\(error)", retryable: false)
        }
    }

    private func train(trial: Assignment, configuration: TrialConfiguration, resumeFile: URL?, report: (MetricEvent) -> Void,
                       cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        var configuration = configuration
        if let dataRoot { configuration.data.root = dataRoot }
        var trialLogger = logger
        trialLogger[metadataKey: "trial"] = "\(trial.trialID)"
        let gangMember = try trial.gang.map { placement in
            try joinGang(placement, configuration: &configuration, aborted: aborted, logger: trialLogger)
        }
        defer { gangMember?.close() }
        let reports = trial.gang.map { $0.rank == 0 } ?? true
        let data = try FoldBatches(source: configuration.data, fold: configuration.fold, settings: configuration.settings,
                                   logger: trialLogger)
        let folder = workDirectory.appendingPathComponent("trial-\(trial.trialID)/attempt-\(trial.attempt)")
        try? FileManager.default.removeItem(at: folder)
        if let resumeFile {
            try ResumeBundle.unpack(resumeFile, into: folder)
            try? FileManager.default.removeItem(at: resumeFile)
        }
        let trainer = try Trainer(settings: configuration.settings, runDirectory: folder, resume: resumeFile != nil,
                                  acceptRescaledBatch: trial.gang != nil,
                                  initialWeights: configuration.initWeights.map(URL.init(fileURLWithPath:)),
                                  logger: trialLogger, gang: gangMember)
        trialLogger.info("training", metadata: ["fold": "\(configuration.fold)", "grid": "\(configuration.parameters)",
                                                "from epoch": "\(trainer.completedEpochs + 1)"])
        var bundleError: Error?
        var traffic = gangMember?.statistics.total
        // The training part of an epoch: from the end of the previous epoch's report to its last step
        // (evaluation, batch-norm averaging and the digest comparison come after it).
        var epochStart = MonotonicClock.seconds()
        var lastStep = epochStart
        let epochs = configuration.settings.epochs
        let summary = try trainer.run(data: data, shouldStop: cancelled) { event in
            switch event {
            case let .step(epoch, batch, batches, loss):
                lastStep = MonotonicClock.seconds()
                progress?(TrialProgress(trialID: trial.trialID, attempt: trial.attempt, epoch: epoch, epochs: epochs,
                                        phase: .training, batch: batch, batches: batches, loss: loss))
            case let .evaluating(epoch, batch, batches):
                progress?(TrialProgress(trialID: trial.trialID, attempt: trial.attempt, epoch: epoch, epochs: epochs,
                                        phase: .evaluating, batch: batch, batches: batches, loss: nil))
            case .epoch:
                break
            }
            guard case let .epoch(epoch, _) = event, reports else { return }
            defer { epochStart = MonotonicClock.seconds() }
            var bundle: CheckpointFile?
            do {
                if epoch.epoch < configuration.settings.epochs {
                    bundle = try ResumeBundle.write(runFolder: folder, epoch: epoch.epoch)
                }
            } catch {
                bundleError = error
            }
            var cost: GangStepStatistics?
            if let gangMember, let gang = epoch.gang, let before = traffic {
                let now = gangMember.statistics.total
                let steps = Double(max(1, gang.steps))
                cost = GangStepStatistics(members: gang.size, stepSeconds: (lastStep - epochStart) / steps,
                                          communicationSeconds: (now.communicationSeconds - before.communicationSeconds) / steps,
                                          bytesSentPerStep: Double(now.bytesSent - before.bytesSent) / steps)
                traffic = now
            }
            report(MetricEvent(epoch: epoch.epoch, trainLoss: epoch.trainLoss, uar: epoch.uar, war: epoch.war,
                               learningRate: epoch.learningRate, seconds: epoch.seconds, confusion: epoch.confusion,
                               resumeCheckpoint: bundle, gang: cost, relabels: epoch.relabels.map(RelabelStatistics.init)))
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

    /// Joins the gang of a data-parallel attempt through the coordinator's hub. Each member keeps its share
    /// of the batch (batch / workers_per_trial); a gang smaller than asked for trains a smaller global batch
    /// with the learning rate scaled by size / workers_per_trial (docs/DATA-PARALLEL.md).
    private func joinGang(_ placement: GangPlacement, configuration: inout TrialConfiguration,
                          aborted: @escaping @Sendable () -> Bool, logger: Logger) throws -> GangMember {
        let requested = configuration.workersPerTrial ?? placement.size
        let options = configuration.dataParallel ?? DataParallelSettings(minWorkers: requested)
        guard configuration.settings.batchSize % requested == 0 else {
            throw TrainingError.settings("batch \(configuration.settings.batchSize) cannot be split over "
                                         + "workers_per_trial \(requested); use a multiple of \(requested)")
        }
        configuration.scale(toGangOf: placement.size)
        let spec = GangSpec(gangID: placement.gangID, rank: placement.rank, size: placement.size,
                            topology: options.reduction == "ring" ? .ring : .star,
                            precision: options.gradientPrecision == "fp16" ? .float16 : .float32,
                            hubEndpoint: placement.hubEndpoint, bucketBytes: options.bucketMegabytes << 20,
                            timeout: gangTimeout, ringBindAddress: ringBindAddress,
                            curve: curve.map { GangCurve(keyPair: $0.keyPair, hubPublicKey: $0.serverKey) })
        logger.info("joining gang", metadata: ["rank": "\(placement.rank)", "size": "\(placement.size)",
                                               "hub": "\(placement.hubEndpoint)", "reduction": "\(options.reduction)"])
        return try GangMember(spec: spec, context: try ZMQContext(), logger: logger, cancelled: aborted)
    }
}


extension RelabelStatistics {
    /// The counts of a trainer's epoch report, as METRIC carries them to the coordinator.
    init(_ report: RelabelReport) {
        self.init(changed: report.changed, fromTo: report.changes, relabelledByClass: report.relabelledByClass)
    }
}
