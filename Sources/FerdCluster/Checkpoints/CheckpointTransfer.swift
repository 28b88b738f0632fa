import FerdDigest
import Foundation
import Logging

/// How a worker's best checkpoint travels to the coordinator (docs/PROTOCOL.md, "Checkpoints"): after the
/// coordinator has stored a RESULT it grants CHUNK_CREDIT for the transfer of that (trial, attempt); the
/// worker answers with CHUNKs, never more than the credit granted so far, and the coordinator grants one
/// more chunk for each one it has written, keeping `window` chunks in flight.
public enum CheckpointTransfer {
    /// The payload of one checkpoint CHUNK (1 MiB, well below `WireFormat.maxChunkPayload`).
    public static let defaultChunkSize = 1 << 20
    /// Chunks the coordinator allows in flight at once.
    public static let window = 4

    /// The transfer id both sides derive from (trial, attempt) for the best checkpoint: the trial id above
    /// 20 bits of attempt.
    public static func transferID(for key: Scheduler.TrialAttempt) -> UInt64 {
        (UInt64(truncatingIfNeeded: key.trialID) << 20) | (UInt64(truncatingIfNeeded: key.attempt) & 0xF_FFFF)
    }

    /// The transfer id of the resume checkpoint a worker uploads after `epoch` of attempt `key`: the top bit
    /// set, the trial id above 12 bits of attempt and 20 bits of epoch.
    public static func resumeUploadID(for key: Scheduler.TrialAttempt, epoch: Int) -> UInt64 {
        (1 << 63) | ((UInt64(truncatingIfNeeded: key.trialID) & 0x7FFF_FFFF) << 32)
            | ((UInt64(truncatingIfNeeded: key.attempt) & 0xFFF) << 20) | (UInt64(truncatingIfNeeded: epoch) & 0xF_FFFF)
    }

    /// The transfer id of the resume checkpoint the coordinator sends to a worker starting attempt `key`: the
    /// second-highest bit set above the best checkpoint's id.
    public static func resumeDownloadID(for key: Scheduler.TrialAttempt) -> UInt64 {
        (1 << 62) | transferID(for: key)
    }

    /// The number of chunks of `chunkSize` bytes that carry `size` bytes (at least one).
    public static func chunkCount(size: Int, chunkSize: Int) -> Int {
        max(1, (size + chunkSize - 1) / chunkSize)
    }
}

/// The worker's side of its checkpoint transfers: which byte ranges the coordinator's credit lets it send.
/// Pure bookkeeping; the worker reads the ranges and sends them as CHUNKs.
public struct ChunkSender: Sendable, Equatable {
    /// One chunk to read from `file` and send.
    public struct Piece: Sendable, Equatable {
        public var transferID: UInt64
        public var index: Int
        public var total: Int
        public var file: URL
        public var offset: Int
        public var length: Int
    }

    struct Outgoing: Sendable, Equatable {
        var file: URL
        var size: Int
        var total: Int
        /// Chunks handed out so far.
        var sent: Int
        /// Chunks the coordinator has allowed so far.
        var allowed: Int
    }

    public let chunkSize: Int
    private(set) var transfers: [UInt64: Outgoing] = [:]

    public init(chunkSize: Int = CheckpointTransfer.defaultChunkSize) {
        precondition(chunkSize > 0 && chunkSize <= WireFormat.maxChunkPayload, "chunk size out of range")
        self.chunkSize = chunkSize
    }

    /// Transfers offered and not yet sent completely.
    public var pendingTransfers: Int { transfers.count }

    /// Transfers the coordinator has asked for (granted credit) and that are not yet sent completely; one it
    /// never asked for (it did not want that checkpoint) is not underway.
    public var transfersUnderway: Int { transfers.values.count { $0.allowed > 0 } }

    /// Offers the best checkpoint `file` of `size` bytes of an attempt; nothing is sent before credit arrives.
    public mutating func offer(_ key: Scheduler.TrialAttempt, file: URL, size: Int) {
        offer(transferID: CheckpointTransfer.transferID(for: key), file: file, size: size)
    }

    /// Offers `file` of `size` bytes as transfer `transferID`; nothing is sent before credit arrives.
    public mutating func offer(transferID: UInt64, file: URL, size: Int) {
        guard size > 0 else { return }
        transfers[transferID] = Outgoing(
            file: file, size: size, total: CheckpointTransfer.chunkCount(size: size, chunkSize: chunkSize),
            sent: 0, allowed: 0)
    }

    /// Adds `credit` and returns the chunks it allows, in order. A transfer is forgotten once its last chunk
    /// is handed out; credit for an unknown transfer allows nothing.
    public mutating func grant(_ credit: ChunkCredit) -> [Piece] {
        guard var outgoing = transfers[credit.transferID], credit.credit > 0 else { return [] }
        outgoing.allowed += credit.credit
        var pieces: [Piece] = []
        while outgoing.sent < min(outgoing.allowed, outgoing.total) {
            let offset = outgoing.sent * chunkSize
            pieces.append(Piece(transferID: credit.transferID, index: outgoing.sent, total: outgoing.total,
                                file: outgoing.file, offset: offset, length: min(chunkSize, outgoing.size - offset)))
            outgoing.sent += 1
        }
        transfers[credit.transferID] = outgoing.sent == outgoing.total ? nil : outgoing
        return pieces
    }

    /// Forgets every transfer (the peer is gone).
    public mutating func removeAll() {
        transfers.removeAll()
    }
}

extension ChunkSender.Piece {
    /// Reads the piece from its file into a CHUNK. A file that cannot be read gives a short chunk (the
    /// receiver rejects the transfer), so a transfer always ends.
    public func read(logger: Logger) -> Chunk {
        var payload: [UInt8] = []
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            payload = Array(try handle.read(upToCount: length) ?? Data())
        } catch {
            logger.error("cannot read checkpoint", metadata: ["path": "\(file.path)", "error": "\(error)"])
        }
        return Chunk(transferID: transferID, index: index, total: total, payload: payload)
    }
}

/// The coordinator's side of one checkpoint transfer: checks that chunks arrive in order, within the credit
/// granted and the announced size, digests them, and says how much more credit to grant. Pure; the
/// coordinator writes the accepted payloads.
public struct ChunkReceiver: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// Write the payload and grant `credit` more chunks (0: enough are in flight).
        case accepted(credit: Int)
        /// Write the payload: it was the last one, and size and SHA-256 match the RESULT.
        case complete
        /// Discard the transfer.
        case rejected(String)
    }

    public let transferID: UInt64
    public let expectedSize: Int
    public let expectedSHA256: String
    /// Chunks in the transfer, known from the first chunk.
    public private(set) var total: Int?
    public private(set) var received = 0
    public private(set) var bytes = 0
    /// Chunks allowed so far.
    public private(set) var granted: Int
    /// When the last chunk arrived (or the transfer began).
    public private(set) var lastProgress: Double
    private var digest = SHA256()

    /// Begins a transfer; send `initialCredit` as CHUNK_CREDIT.
    public init(transferID: UInt64, expectedSize: Int, expectedSHA256: String, window: Int = CheckpointTransfer.window,
                at time: Double) {
        precondition(window > 0, "window must be positive")
        self.transferID = transferID
        self.expectedSize = expectedSize
        self.expectedSHA256 = expectedSHA256
        granted = window
        lastProgress = time
    }

    /// The credit to grant when the transfer begins.
    public var initialCredit: Int { granted }

    /// Checks one chunk.
    public mutating func accept(_ chunk: Chunk, at time: Double) -> Outcome {
        guard chunk.transferID == transferID else { return .rejected("chunk of transfer \(chunk.transferID)") }
        if let total, chunk.total != total {
            return .rejected("chunk says \(chunk.total) chunks, earlier ones said \(total)")
        }
        guard chunk.index == received else {
            return .rejected("chunk \(chunk.index) arrived where chunk \(received) was due")
        }
        guard received < granted else { return .rejected("chunk \(chunk.index) exceeds the credit of \(granted)") }
        guard bytes + chunk.payload.count <= expectedSize else {
            return .rejected("more than the \(expectedSize) bytes announced")
        }
        total = chunk.total
        received += 1
        bytes += chunk.payload.count
        lastProgress = time
        digest.update(chunk.payload)
        guard received == chunk.total else {
            guard granted < chunk.total else { return .accepted(credit: 0) }
            granted += 1
            return .accepted(credit: 1)
        }
        guard bytes == expectedSize else { return .rejected("received \(bytes) bytes, \(expectedSize) announced") }
        let actual = digest.hexDigest()
        guard actual == expectedSHA256 else {
            return .rejected("SHA-256 \(actual) differs from the announced \(expectedSHA256)")
        }
        return .complete
    }
}
