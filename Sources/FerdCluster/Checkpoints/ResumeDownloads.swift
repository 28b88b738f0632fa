import Foundation
import Logging

/// The worker's downloads of resume checkpoints: an assignment that continues from a checkpoint waits here
/// until its file has arrived from the coordinator (an `IncomingFile`: CHUNKs under the worker's credit,
/// checked against the size and SHA-256 in the ASSIGN). A rejected or stalled download starts the attempt
/// from scratch instead, so a trial never waits forever for a file — except for a gang member: its gang
/// resumes from the checkpoint, so the member fails the attempt (retryable) rather than train from another
/// state than the others.
final class ResumeDownloads {
    /// An assignment whose wait is over: start it, from `file` when the download succeeded — or, when
    /// `failure` is set, report that the attempt failed without starting it.
    struct Ready {
        var assignment: Assignment
        var file: URL?
        var failure: String?

        /// The ready state of an assignment whose checkpoint could not be fetched, for `reason`.
        static func withoutCheckpoint(_ assignment: Assignment, reason: String) -> Ready {
            if assignment.gang != nil {
                return Ready(assignment: assignment, failure: "gang member could not fetch the resume checkpoint "
                             + "(\(reason)); its gang resumes from it, so the attempt fails and is queued again")
            }
            var fromScratch = assignment
            fromScratch.resume = nil
            return Ready(assignment: fromScratch)
        }
    }

    /// What a new assignment needs: its checkpoint fetched first (send `credit`), or nothing more.
    enum Beginning {
        case fetching(credit: Message)
        case startNow(Ready)
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

    /// Begins fetching the resume checkpoint of `assignment`: the CHUNK_CREDIT to send, or, when it has no
    /// resume point or the file cannot be created, how to start it now.
    func begin(_ assignment: Assignment, at time: Double) -> Beginning {
        guard let resume = assignment.resume else { return .startNow(Ready(assignment: assignment)) }
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
            return .fetching(credit: .chunkCredit(ChunkCredit(transferID: transferID, credit: file.receiver.initialCredit)))
        } catch {
            let path = IncomingFile.partialFile(for: destination).path
            logger.error("cannot store the resume checkpoint",
                         metadata: ["trial": "\(key.trialID)", "attempt": "\(key.attempt)", "path": "\(path)",
                                    "error": "\(error)"])
            return .startNow(.withoutCheckpoint(assignment, reason: "cannot write \(path): \(error)"))
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
        let ready = Ready.withoutCheckpoint(download.assignment, reason: reason)
        logger.warning(ready.failure == nil ? "resume checkpoint not fetched; starting the attempt from scratch"
                                            : "resume checkpoint not fetched; failing the gang attempt",
                       metadata: ["trial": "\(download.assignment.trialID)", "attempt": "\(download.assignment.attempt)",
                                  "reason": "\(reason)"])
        return ready
    }
}
