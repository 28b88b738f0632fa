import Foundation
import FerdLeaderboard
import Logging

/// Writes the scheduler's actions to the leaderboard and the log. A failed write is fatal to the
/// coordinator (it throws), so nothing is acknowledged that was not stored.
struct CoordinatorStore {
    let leaderboard: Leaderboard
    let logger: Logger

    /// Stores state changes in one transaction; LOST and FAILED also go to the event log.
    func apply(_ changes: [Scheduler.TrialChange], at time: Double) throws {
        guard !changes.isEmpty else { return }
        let date = Date(timeIntervalSince1970: time)
        try leaderboard.applyStateChanges(changes.map { change in
            TrialStateChange(trialID: change.trialID, state: change.state, attempts: change.attempt,
                             worker: change.worker,
                             gang: change.gang.map { TrialGang(size: $0.size, learningRateScale: $0.learningRateScale) },
                             stop: change.stop,
                             retry: change.retryAfter.map { TrialRetry(after: Date(timeIntervalSince1970: $0),
                                                                       reason: change.reason ?? "") })
        }, at: date)
        for change in changes {
            let metadata: Logger.Metadata = ["trial": "\(change.trialID)", "attempt": "\(change.attempt)",
                                             "state": "\(change.state.rawValue)",
                                             "worker": "\(change.worker ?? "-")", "reason": "\(change.reason ?? "-")"]
            switch change.state {
            case .lost, .failed:
                logger.warning("trial \(change.state.rawValue)", metadata: metadata)
                try leaderboard.logEvent(kind: "trial", text: "trial \(change.trialID) attempt \(change.attempt) "
                                             + "\(change.state.rawValue): \(change.reason ?? "")", at: date)
            case .running where change.gang.map({ $0.size < $0.requested }) == true:
                let gang = change.gang!
                let text = "trial \(change.trialID) attempt \(change.attempt) started with \(gang.size) of "
                    + "\(gang.requested) workers; learning rate × \(gang.learningRateScale)"
                logger.notice("gang smaller than asked",
                              metadata: metadata.merging(["workers": "\(gang.size) of \(gang.requested)",
                                                          "lr scale": "\(gang.learningRateScale)"]) { $1 })
                try leaderboard.logEvent(kind: "trial", text: text, at: date)
            case .running where change.reason != nil:
                logger.info("trial \(change.reason!)", metadata: metadata)
                try leaderboard.logEvent(kind: "trial", text: "trial \(change.trialID) attempt \(change.attempt) "
                                             + "\(change.reason!) to worker \(change.worker ?? "-")", at: date)
            case .stopped:
                logger.notice("trial STOPPED", metadata: metadata)
                try leaderboard.logEvent(kind: "trial", text: "trial \(change.trialID) STOPPED: \(change.reason ?? "")",
                                         at: date)
            case .queued, .running, .done:
                logger.debug("trial \(change.state.rawValue)", metadata: metadata)
            }
        }
    }

    /// Stores or logs one action other than a state change or a send.
    func perform(_ action: Scheduler.Action, at time: Double) throws {
        let date = Date(timeIntervalSince1970: time)
        switch action {
        case let .recordMetric(metric, _):
            try leaderboard.recordEpochMetric(EpochMetricRecord(
                trialID: metric.trialID, attempt: metric.attempt, epoch: metric.epoch, trainLoss: metric.trainLoss,
                uar: metric.uar, war: metric.war, learningRate: metric.learningRate, seconds: metric.seconds,
                confusion: metric.confusion, gang: metric.gang.map {
                    GangEpochCost(members: $0.members, stepSeconds: $0.stepSeconds,
                                  communicationSeconds: $0.communicationSeconds, bytesPerStep: $0.bytesSentPerStep)
                }, relabels: metric.relabels.map {
                    RelabelCounts(changed: $0.changed, fromTo: $0.fromTo, relabelledByClass: $0.relabelledByClass)
                }))
        case let .recordResult(result, worker):
            try leaderboard.recordResult(ResultRecord(
                trialID: result.trialID, attempt: result.attempt, bestEpoch: result.bestEpoch, uar: result.uar,
                war: result.war, perClassRecall: result.perClassRecall, confusion: result.confusion,
                checkpointPath: nil, digest: result.checkpointSHA256), at: date)
            logger.info("trial DONE", metadata: ["trial": "\(result.trialID)", "attempt": "\(result.attempt)",
                                                 "worker": "\(worker)", "uar": "\(result.uar)", "war": "\(result.war)"])
        case let .workerJoined(hello, _):
            try leaderboard.upsertWorker(WorkerRecord(id: hello.workerID, host: hello.workerID, cores: hello.cores,
                                                      backend: hello.backend, slots: hello.slots, lastHeartbeat: date))
            try leaderboard.logEvent(kind: "worker", text: "worker \(hello.workerID) joined with \(hello.slots) slots "
                                         + "(\(hello.backend), ferd \(hello.ferdVersion))", at: date)
            logger.info("worker joined", metadata: ["worker": "\(hello.workerID)", "slots": "\(hello.slots)"])
        case let .budgetSpent(text):
            logger.warning("\(text)")
            try leaderboard.logEvent(kind: "budget", text: text, at: date)
        case .send, .trialChanged, .workerGone, .fetchResumeCheckpoint, .fetchBestCheckpoint, .discardResumePoint,
             .offerResumeCheckpoint, .discarded:
            break
        }
    }

    func workerGone(_ worker: Scheduler.WorkerID, reason: Scheduler.WorkerGoneReason, at time: Double) throws {
        logger.warning("worker gone", metadata: ["worker": "\(worker)", "reason": "\(reason)"])
        try leaderboard.logEvent(kind: "worker", text: "worker \(worker) gone: \(reason)",
                                 at: Date(timeIntervalSince1970: time))
    }

    func recordHeartbeat(_ worker: Scheduler.WorkerID, at time: Double) throws {
        try leaderboard.recordHeartbeat(workerID: worker, at: Date(timeIntervalSince1970: time))
    }
}
