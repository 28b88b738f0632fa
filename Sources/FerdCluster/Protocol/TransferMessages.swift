/// CHUNK: one piece of a large payload (a checkpoint, gradients) split into frames of at most
/// `WireFormat.maxChunkPayload` bytes.
public struct Chunk: Equatable, Sendable {
    /// Chosen by the sender, unique among its transfers in flight.
    public var transferID: UInt64
    /// 0-based position of this chunk.
    public var index: Int
    /// The number of chunks in the transfer, at least 1.
    public var total: Int
    public var payload: [UInt8]

    public init(transferID: UInt64, index: Int, total: Int, payload: [UInt8]) {
        self.transferID = transferID
        self.index = index
        self.total = total
        self.payload = payload
    }
}

/// CHUNK_CREDIT: the receiver of a transfer allows `credit` more chunks to be sent.
public struct ChunkCredit: Equatable, Sendable {
    public var transferID: UInt64
    public var credit: Int

    public init(transferID: UInt64, credit: Int) {
        self.transferID = transferID
        self.credit = credit
    }
}
