import Foundation

/// One file arriving in CHUNKs (a checkpoint a worker uploads, or a resume checkpoint the coordinator sends):
/// a `ChunkReceiver` checks each chunk, its payload is appended to `<destination>.partial`, and the last
/// chunk, once size and SHA-256 match, has the partial file renamed atomically to `destination`. A transfer
/// that ends any other way leaves neither file behind.
struct IncomingFile: Sendable {
    /// What an accepted chunk calls for.
    enum Progress: Equatable, Sendable {
        /// The chunk is written; grant `credit` more chunks (0: enough are in flight).
        case accepted(credit: Int)
        /// The last chunk: the verified file is at `destination`.
        case complete
    }

    /// Why a transfer ended without a file; the partial file is already closed and deleted.
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// A chunk broke the transfer (order, credit, size or SHA-256) or could not be written.
        case rejected(String)
        /// The verified file could not be moved to its destination.
        case cannotStore(String)

        var description: String {
            switch self {
            case let .rejected(reason), let .cannotStore(reason): reason
            }
        }
    }

    /// Where the verified file ends up.
    let destination: URL
    /// The file the chunks are written to until the transfer is complete.
    let partial: URL
    /// The transfer's bookkeeping: chunks and bytes so far, the expected size and digest, the last progress.
    private(set) var receiver: ChunkReceiver
    private let handle: FileHandle

    /// The partial file of a transfer to `destination`.
    static func partialFile(for destination: URL) -> URL {
        destination.appendingPathExtension("partial")
    }

    /// Begins transfer `transferID` of `expected` to `destination`: creates the destination's folder and an
    /// empty partial file (replacing one a previous transfer left). Send `receiver.initialCredit` as
    /// CHUNK_CREDIT.
    init(destination: URL, transferID: UInt64, expected: CheckpointDescriptor, at time: Double) throws {
        let partial = Self.partialFile(for: destination)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial.path])
        }
        do {
            handle = try FileHandle(forWritingTo: partial)
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
        self.destination = destination
        self.partial = partial
        receiver = ChunkReceiver(transferID: transferID, expectedSize: expected.size,
                                 expectedSHA256: expected.sha256, at: time)
    }

    /// Checks and writes one chunk; the last one also verifies the file and moves it to `destination`. On a
    /// failure the partial file is gone and the transfer is over.
    mutating func receive(_ chunk: Chunk, at time: Double) throws(Failure) -> Progress {
        let outcome = receiver.accept(chunk, at: time)
        if case let .rejected(reason) = outcome {
            abandon()
            throw .rejected(reason)
        }
        do {
            try handle.write(contentsOf: chunk.payload)
        } catch {
            abandon()
            throw .rejected("cannot write \(partial.path): \(error)")
        }
        guard case let .accepted(credit) = outcome else {
            try store()
            return .complete
        }
        return .accepted(credit: credit)
    }

    /// Gives the transfer up: closes and deletes the partial file. Calling it again does nothing.
    func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(at: partial)
    }

    /// Closes the verified partial file and renames it over `destination` in one step.
    private func store() throws(Failure) {
        do {
            try handle.close()
        } catch {
            abandon()
            throw .cannotStore("cannot close \(partial.path): \(error)")
        }
        guard rename(partial.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw .cannotStore("cannot rename \(partial.path) to \(destination.path): \(reason)")
        }
    }
}
