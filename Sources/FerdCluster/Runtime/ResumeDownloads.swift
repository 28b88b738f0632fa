import Foundation
import Logging

/// The worker's downloads of resume checkpoints: an assignment that continues from a checkpoint waits here
/// until its file has arrived from the coordinator (an `IncomingFile`: CHUNKs under the worker's credit,
/// checked against the size and SHA-256 in the ASSIGN). A rejected or stalled download starts the attempt
/// from scratch instead, so a trial never waits forever for a file.
final class ResumeDownloads {
    /// An assignment whose wait is over: start it, from `file` when the download succeeded.
    struct Ready {
        var assignment: Assignment
        var file: URL?
    }

    private struct Download {
        var assignment: Assignment
        var file: IncomingFile
    }

    private let directory: URL
    private let stallTimeout: Double
    private let logger: Logger
    private var downloads: [UInt64: Download] = [:]

    init(directory: URL, stallTimeout: Double, logger: Logger) {
        self.directory = directory
        self.stallTimeout = stallTimeout
        self.logger = logger
    }

    /// Begins fetching the resume checkpoint of `assignment`; returns the CHUNK_CREDIT to send, or nil when
    /// the file cannot be created (the attempt then starts from scratch).
    func begin(_ assignment: Assignment, at time: Double) -> Message? {
        guard let resume = assignment.resume else { return nil }
        let key = Scheduler.TrialAttempt(trialID: assignment.trialID, attempt: assignment.attempt)
        let transferID = CheckpointTransfer.resumeDownloadID(for: key)
        let destination = directory.appendingPathComponent(
            "trial-\(key.trialID)-attempt-\(key.attempt)-resume.safetensors")
        downloads.removeValue(forKey: transferID)?.file.abandon()
        do {
            let file = try IncomingFile(destination: destination, transferID: transferID, expected: resume.checkpoint,
                                        at: time)
            downloads[transferID] = Download(assignment: assignment, file: file)
            logger.info("fetching resume checkpoint", metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                                                                 "epoch": "\(resume.epoch)", "bytes": "\(resume.checkpoint.size)"])
            return .chunkCredit(ChunkCredit(transferID: transferID, credit: file.receiver.initialCredit))
        } catch {
            logger.error("cannot store the resume checkpoint; starting from scratch",
                         metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)",
                                    "path": "\(IncomingFile.partialFile(for: destination).path)", "error": "\(error)"])
            return nil
        }
    }

    /// True while `key`'s checkpoint is being fetched.
    func isWaiting(_ key: Scheduler.TrialAttempt) -> Bool {
        downloads[CheckpointTransfer.resumeDownloadID(for: key)] != nil
    }

    /// Takes one CHUNK: the credit to send, or the assignment to start once the file is complete or rejected.
    func receive(_ chunk: Chunk, at time: Double) -> (credit: Message?, ready: Ready?) {
        guard var download = downloads[chunk.transferID] else { return (nil, nil) }
        let progress: IncomingFile.Progress
        do throws(IncomingFile.Failure) {
            progress = try download.file.receive(chunk, at: time)
        } catch {
            return (nil, abandon(chunk.transferID, reason: error.description))
        }
        switch progress {
        case let .accepted(credit):
            downloads[chunk.transferID] = download
            return (credit > 0 ? .chunkCredit(ChunkCredit(transferID: chunk.transferID, credit: credit)) : nil, nil)
        case .complete:
            downloads[chunk.transferID] = nil
            logger.info("resume checkpoint fetched", metadata: ["trial": "\(download.assignment.trialID)",
                                                                "bytes": "\(download.file.receiver.bytes)"])
            return (nil, Ready(assignment: download.assignment, file: download.file.destination))
        }
    }

    /// Gives up downloads without progress for `stallTimeout` seconds; their attempts start from scratch.
    func expire(at time: Double) -> [Ready] {
        downloads.filter { time - $0.value.file.receiver.lastProgress > stallTimeout }.keys.sorted().compactMap {
            abandon($0, reason: "no chunk for \(stallTimeout) s")
        }
    }

    /// Drops the download of a cancelled attempt; true if there was one.
    func cancel(_ key: Scheduler.TrialAttempt) -> Bool {
        let transferID = CheckpointTransfer.resumeDownloadID(for: key)
        guard let download = downloads.removeValue(forKey: transferID) else { return false }
        download.file.abandon()
        return true
    }

    private func abandon(_ transferID: UInt64, reason: String) -> Ready? {
        guard let download = downloads.removeValue(forKey: transferID) else { return nil }
        download.file.abandon()
        logger.warning("resume checkpoint not fetched; starting the attempt from scratch",
                       metadata: ["trial": "\(download.assignment.trialID)", "attempt": "\(download.assignment.attempt)",
                                  "reason": "\(reason)"])
        var assignment = download.assignment
        assignment.resume = nil
        return Ready(assignment: assignment, file: nil)
    }
}
