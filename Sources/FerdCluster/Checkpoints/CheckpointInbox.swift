import FerdLeaderboard
import Foundation
import Logging

/// The coordinator's incoming checkpoint transfers, an `IncomingFile` each. A verified file is renamed into
/// place and its path recorded (with the result, or as the trial's resume point); a rejected or stalled
/// transfer is deleted and logged, and never stops the coordinator. Only a failed leaderboard write throws.
final class CheckpointInbox {
    /// Which checkpoint a transfer carries.
    enum Kind: Equatable {
        /// The best epoch's weights, after the RESULT.
        case best
        /// The resume checkpoint written after `epoch`.
        case resume(epoch: Int)
    }

    private struct Key: Hashable {
        var worker: Scheduler.WorkerID
        var transferID: UInt64
    }

    private struct Incoming {
        var file: IncomingFile
        var kind: Kind
        var key: Scheduler.TrialAttempt
    }

    private let directory: URL
    private let leaderboard: Leaderboard
    private let logger: Logger
    /// Seconds without a chunk after which a transfer is abandoned.
    private let stallTimeout: Double
    private var incoming: [Key: Incoming] = [:]

    init(directory: URL, leaderboard: Leaderboard, logger: Logger, stallTimeout: Double) {
        self.directory = directory
        self.leaderboard = leaderboard
        self.logger = logger
        self.stallTimeout = stallTimeout
    }

    /// True while no transfer is in progress.
    var isEmpty: Bool { incoming.isEmpty }

    /// The file a verified best checkpoint of `key` is stored as.
    static func fileName(for key: Scheduler.TrialAttempt) -> String {
        "trial-\(key.trialID)-attempt-\(key.attempt).safetensors"
    }

    /// The file the resume checkpoint of a trial after `epoch` is stored as.
    func resumeFile(trialID: Int, epoch: Int) -> URL {
        directory.appendingPathComponent("trial-\(trialID)-resume-epoch-\(epoch).safetensors")
    }

    /// Begins receiving the checkpoint of a stored result; returns the CHUNK_CREDIT to send, or nil when
    /// there is nothing to fetch or the file cannot be created.
    func begin(_ result: ResultReport, from worker: Scheduler.WorkerID, at time: Double) -> Message? {
        guard result.checkpointSize > 0 else { return nil }
        let key = Scheduler.TrialAttempt(trialID: result.trialID, attempt: result.attempt)
        return begin(.best, of: key, CheckpointDescriptor(size: result.checkpointSize, sha256: result.checkpointSHA256),
                     transferID: CheckpointTransfer.transferID(for: key), from: worker, at: time)
    }

    /// Begins receiving the resume checkpoint a METRIC announced; returns the CHUNK_CREDIT to send.
    func begin(_ metric: MetricReport, from worker: Scheduler.WorkerID, at time: Double) -> Message? {
        guard let descriptor = metric.resumeCheckpoint else { return nil }
        let key = Scheduler.TrialAttempt(trialID: metric.trialID, attempt: metric.attempt)
        return begin(.resume(epoch: metric.epoch), of: key, descriptor,
                     transferID: CheckpointTransfer.resumeUploadID(for: key, epoch: metric.epoch), from: worker, at: time)
    }

    private func begin(_ kind: Kind, of key: Scheduler.TrialAttempt, _ descriptor: CheckpointDescriptor,
                       transferID: UInt64, from worker: Scheduler.WorkerID, at time: Double) -> Message? {
        let destination = switch kind {
        case .best: directory.appendingPathComponent(Self.fileName(for: key))
        case let .resume(epoch): resumeFile(trialID: key.trialID, epoch: epoch)
        }
        let slot = Key(worker: worker, transferID: transferID)
        incoming.removeValue(forKey: slot)?.file.abandon()
        let file: IncomingFile
        do {
            file = try IncomingFile(destination: destination, transferID: transferID, expected: descriptor, at: time)
        } catch {
            logger.error("cannot store checkpoint", metadata: [
                "trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                "path": "\(IncomingFile.partialFile(for: destination).path)", "error": "\(error)",
            ])
            return nil
        }
        incoming[slot] = Incoming(file: file, kind: kind, key: key)
        logger.debug("requesting checkpoint", metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                                                         "kind": "\(kind)", "bytes": "\(descriptor.size)",
                                                         "worker": "\(worker)"])
        return .chunkCredit(ChunkCredit(transferID: transferID, credit: file.receiver.initialCredit))
    }

    /// What taking a CHUNK calls for.
    struct Progress {
        /// CHUNK_CREDIT to send to the worker.
        var credit: Message?
        /// A resume checkpoint that is now stored: the trial and where it continues.
        var resumePoint: (trialID: Int, point: ResumePoint)?
    }

    /// Takes one CHUNK.
    func receive(_ chunk: Chunk, from worker: Scheduler.WorkerID, at time: Double) throws -> Progress {
        let slot = Key(worker: worker, transferID: chunk.transferID)
        guard var entry = incoming[slot] else {
            logger.info("dropped a chunk of an unknown transfer",
                        metadata: ["worker": "\(worker)", "transfer": "\(chunk.transferID)", "index": "\(chunk.index)"])
            return Progress()
        }
        let progress: IncomingFile.Progress
        do throws(IncomingFile.Failure) {
            progress = try entry.file.receive(chunk, at: time)
        } catch {
            switch error {
            case let .rejected(reason):
                abandon(slot, reason: reason, at: time)
            case let .cannotStore(reason):
                incoming[slot] = nil
                logger.error("cannot store checkpoint", metadata: ["trial": "\(entry.key.trialID)",
                                                                   "path": "\(entry.file.destination.path)",
                                                                   "error": "\(reason)"])
            }
            return Progress()
        }
        switch progress {
        case let .accepted(credit):
            incoming[slot] = entry
            return Progress(credit: credit > 0 ? .chunkCredit(ChunkCredit(transferID: chunk.transferID, credit: credit)) : nil)
        case .complete:
            incoming[slot] = nil
            return Progress(resumePoint: try record(entry, from: worker))
        }
    }

    /// Abandons transfers that made no progress for `stallTimeout` seconds.
    func expire(at time: Double) {
        for (slot, entry) in incoming where time - entry.file.receiver.lastProgress > stallTimeout {
            abandon(slot, reason: "no chunk for \(stallTimeout) s", at: time)
        }
    }

    /// Deletes the resume checkpoint of a DONE trial, which nothing will resume from, once its best checkpoint
    /// is stored (until then the bundle's copy of the best weights is the coordinator's only one).
    func discardResumePoint(trialID: Int) throws {
        guard let previous = try leaderboard.clearResumePoint(trialID: trialID) else { return }
        try? FileManager.default.removeItem(atPath: previous.path)
        logger.debug("resume checkpoint deleted", metadata: ["trial": "\(trialID)", "path": "\(previous.path)"])
    }

    /// Drops every transfer in progress and its partial file.
    func close() {
        for entry in incoming.values { entry.file.abandon() }
        incoming.removeAll()
    }

    /// Records a stored checkpoint in the leaderboard; for a resume checkpoint, returns the trial's new
    /// resume point.
    private func record(_ entry: Incoming, from worker: Scheduler.WorkerID) throws -> (trialID: Int, point: ResumePoint)? {
        let destination = entry.file.destination
        let receiver = entry.file.receiver
        let metadata: Logger.Metadata = ["trial": "\(entry.key.trialID)", "attempt": "\(entry.key.attempt)",
                                         "bytes": "\(receiver.bytes)", "worker": "\(worker)",
                                         "path": "\(destination.path)"]
        switch entry.kind {
        case .best:
            try leaderboard.setCheckpointPath(trialID: entry.key.trialID, attempt: entry.key.attempt,
                                              path: destination.path)
            logger.info("checkpoint stored", metadata: metadata)
            try discardResumePoint(trialID: entry.key.trialID)
            return nil
        case let .resume(epoch):
            let descriptor = CheckpointDescriptor(size: receiver.expectedSize, sha256: receiver.expectedSHA256)
            let stored = StoredResumePoint(epoch: epoch, size: descriptor.size, sha256: descriptor.sha256,
                                           path: destination.path)
            guard let previous = try leaderboard.replaceResumePoint(trialID: entry.key.trialID, with: stored) else {
                try? FileManager.default.removeItem(at: destination)
                return nil
            }
            if let previous, previous.path != stored.path {
                try? FileManager.default.removeItem(atPath: previous.path)
            }
            logger.info("resume checkpoint stored", metadata: metadata.merging(["epoch": "\(epoch)"]) { $1 })
            return (entry.key.trialID, ResumePoint(epoch: epoch, checkpoint: descriptor))
        }
    }

    private func abandon(_ slot: Key, reason: String, at time: Double) {
        guard let entry = incoming.removeValue(forKey: slot) else { return }
        entry.file.abandon()
        logger.warning("checkpoint rejected", metadata: ["trial": "\(entry.key.trialID)",
                                                         "attempt": "\(entry.key.attempt)",
                                                         "worker": "\(slot.worker)", "reason": "\(reason)"])
        try? leaderboard.logEvent(kind: "checkpoint", text: "trial \(entry.key.trialID) attempt \(entry.key.attempt) "
                                      + "checkpoint rejected: \(reason)",
                                  at: Date(timeIntervalSince1970: time))
    }
}
