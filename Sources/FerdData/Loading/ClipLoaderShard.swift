/// The part of every batch that one member of a data-parallel gang takes (docs/DATA-PARALLEL.md): of a
/// batch whose clips sit at places 0..<n, member `rank` of `count` takes places rank, rank + count,
/// rank + 2·count, … in that order. The batch itself is the one a single process would use, so the
/// members' parts together are that batch, clip for clip.
public struct ClipShard: Sendable, Hashable, CustomStringConvertible {
    /// This member's position, 0..<count.
    public let rank: Int
    /// The number of members.
    public let count: Int

    /// The whole batch (one member).
    public static let whole = ClipShard(rank: 0, count: 1)

    public init(rank: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(rank), "shard \(rank) of \(count) does not exist")
        self.rank = rank
        self.count = count
    }

    /// The elements of `batch` this member takes.
    public func select<Element>(_ batch: [Element]) -> [Element] {
        count == 1 ? batch : stride(from: rank, to: batch.count, by: count).map { batch[$0] }
    }

    /// Throws unless batches of `batchSize` clips split evenly over the members.
    public func check(batchSize: Int) throws(DataError) {
        guard batchSize % count == 0 else {
            throw DataError(file: "<batch size>",
                            problem: "a batch of \(batchSize) clips cannot be split evenly over \(count) workers",
                            fix: "use a batch size that is a multiple of \(count)")
        }
    }

    public var description: String { "shard \(rank) of \(count)" }
}

extension ClipBatch {
    /// The clips of this batch that `shard` takes, values copied in order.
    public func selecting(_ shard: ClipShard) -> ClipBatch {
        guard shard.count > 1 else { return self }
        let clipFloats = shape.dropFirst().reduce(1, *)
        let places = shard.select(Array(labels.indices))
        var selected = [Float]()
        selected.reserveCapacity(places.count * clipFloats)
        for place in places { selected.append(contentsOf: values[(place * clipFloats)..<((place + 1) * clipFloats)]) }
        return ClipBatch(shape: [places.count] + shape.dropFirst(), values: selected,
                         labels: places.map { labels[$0] }, clipIDs: places.map { clipIDs[$0] })
    }
}

extension ClipLoader {
    /// The clip positions `shard` takes from each batch of `epoch` (``batchPlan(epoch:)``), in order. A
    /// member may get no clip of the last, incomplete batch.
    public func batchPlan(epoch: Int, shard: ClipShard) -> [[Int]] {
        batchPlan(epoch: epoch).map { shard.select($0) }
    }

    /// This member's part of every batch of `epoch`, built in the background. Only its clips are read
    /// and augmented; each clip's sampling and augmentation depend on its position in the loader, so
    /// they are the same as in the whole batch. Throws when the batch size does not split over the gang.
    public func batches(epoch: Int, shard: ClipShard) throws(DataError) -> ClipBatchSequence {
        try shard.check(batchSize: options.batchSize)
        return batches(plan: batchPlan(epoch: epoch, shard: shard), epoch: epoch)
    }
}
