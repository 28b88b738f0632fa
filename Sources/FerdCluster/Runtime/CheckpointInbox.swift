import FerdLeaderboard
import Foundation
import Logging

/// The coordinator's incoming checkpoint transfers: a `ChunkReceiver` and a `.partial` file each. A verified
/// file is renamed into place and its path recorded with the result; a rejected or stalled transfer is
/// deleted and logged, and never stops the coordinator. Only a failed leaderboard write throws.
final class CheckpointInbox {
    private struct Key: Hashable {
        var worker: Scheduler.WorkerID
        var transferID: UInt64
    }

    private struct Incoming {
        var receiver: ChunkReceiver
        var key: Scheduler.TrialAttempt
        var handle: FileHandle
        var partial: URL
        var destination: URL
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

    /// The file a verified checkpoint of `key` is stored as.
    static func fileName(for key: Scheduler.TrialAttempt) -> String {
        "trial-\(key.trialID)-attempt-\(key.attempt).safetensors"
    }

    /// Begins receiving the checkpoint of a stored result; returns the CHUNK_CREDIT to send, or nil when
    /// there is nothing to fetch or the file cannot be created.
    func begin(_ result: ResultReport, from worker: Scheduler.WorkerID, at time: Double) -> Message? {
        guard result.checkpointSize > 0 else { return nil }
        let key = Scheduler.TrialAttempt(trialID: result.trialID, attempt: result.attempt)
        let destination = directory.appendingPathComponent(Self.fileName(for: key))
        let partial = destination.appendingPathExtension("partial")
        let handle: FileHandle
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial.path])
            }
            handle = try FileHandle(forWritingTo: partial)
        } catch {
            logger.error("cannot store checkpoint", metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                                                               "path": "\(partial.path)", "error": "\(error)"])
            return nil
        }
        let transferID = CheckpointTransfer.transferID(for: key)
        let receiver = ChunkReceiver(transferID: transferID, expectedSize: result.checkpointSize,
                                     expectedSHA256: result.checkpointSHA256, at: time)
        let slot = Key(worker: worker, transferID: transferID)
        if let previous = incoming[slot] { discard(previous) }
        incoming[slot] = Incoming(receiver: receiver, key: key, handle: handle, partial: partial,
                                  destination: destination)
        logger.debug("requesting checkpoint", metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                                                         "bytes": "\(result.checkpointSize)", "worker": "\(worker)"])
        return .chunkCredit(ChunkCredit(transferID: transferID, credit: receiver.initialCredit))
    }

    /// Takes one CHUNK; returns the CHUNK_CREDIT to send, if any.
    func receive(_ chunk: Chunk, from worker: Scheduler.WorkerID, at time: Double) throws -> Message? {
        let slot = Key(worker: worker, transferID: chunk.transferID)
        guard var entry = incoming[slot] else {
            logger.info("dropped a chunk of an unknown transfer",
                        metadata: ["worker": "\(worker)", "transfer": "\(chunk.transferID)", "index": "\(chunk.index)"])
            return nil
        }
        let outcome = entry.receiver.accept(chunk, at: time)
        if case let .rejected(reason) = outcome {
            abandon(slot, reason: reason, at: time)
            return nil
        }
        do {
            try entry.handle.write(contentsOf: chunk.payload)
        } catch {
            abandon(slot, reason: "cannot write \(entry.partial.path): \(error)", at: time)
            return nil
        }
        switch outcome {
        case let .accepted(credit):
            incoming[slot] = entry
            return credit > 0 ? .chunkCredit(ChunkCredit(transferID: chunk.transferID, credit: credit)) : nil
        case .complete:
            incoming[slot] = nil
            try finish(entry, from: worker)
            return nil
        case .rejected:
            return nil
        }
    }

    /// Abandons transfers that made no progress for `stallTimeout` seconds.
    func expire(at time: Double) {
        for (slot, entry) in incoming where time - entry.receiver.lastProgress > stallTimeout {
            abandon(slot, reason: "no chunk for \(stallTimeout) s", at: time)
        }
    }

    /// Drops every transfer in progress and its partial file.
    func close() {
        for entry in incoming.values { discard(entry) }
        incoming.removeAll()
    }

    private func finish(_ entry: Incoming, from worker: Scheduler.WorkerID) throws {
        do {
            try entry.handle.close()
            if FileManager.default.fileExists(atPath: entry.destination.path) {
                try FileManager.default.removeItem(at: entry.destination)
            }
            try FileManager.default.moveItem(at: entry.partial, to: entry.destination)
        } catch {
            logger.error("cannot store checkpoint", metadata: ["trial": "\(entry.key.trialID)",
                                                               "path": "\(entry.destination.path)", "error": "\(error)"])
            try? FileManager.default.removeItem(at: entry.partial)
            return
        }
        try leaderboard.setCheckpointPath(trialID: entry.key.trialID, attempt: entry.key.attempt,
                                          path: entry.destination.path)
        logger.info("checkpoint stored", metadata: ["trial": "\(entry.key.trialID)", "attempt": "\(entry.key.attempt)",
                                                    "bytes": "\(entry.receiver.bytes)", "worker": "\(worker)",
                                                    "path": "\(entry.destination.path)"])
    }

    private func abandon(_ slot: Key, reason: String, at time: Double) {
        guard let entry = incoming.removeValue(forKey: slot) else { return }
        discard(entry)
        logger.warning("checkpoint rejected", metadata: ["trial": "\(entry.key.trialID)",
                                                         "attempt": "\(entry.key.attempt)",
                                                         "worker": "\(slot.worker)", "reason": "\(reason)"])
        try? leaderboard.logEvent(kind: "checkpoint", text: "trial \(entry.key.trialID) attempt \(entry.key.attempt) "
                                      + "checkpoint rejected: \(reason)",
                                  at: Date(timeIntervalSince1970: time))
    }

    private func discard(_ entry: Incoming) {
        try? entry.handle.close()
        try? FileManager.default.removeItem(at: entry.partial)
    }
}
