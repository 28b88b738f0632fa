import FerdData
import FerdTensor
import FerdTraining

/// Clips held in memory, shuffled per epoch from a seed: the same batches for the same epoch. Sharded
/// batches come from `BatchProvider`'s default implementations (the shard cut out of each whole batch).
public struct InMemoryBatches: BatchProvider, Sendable {
    public let clips: [[Float]]
    public let labels: [Int]
    /// (T, 3, H, W) of one clip.
    public let clipShape: [Int]
    public let batchSize: Int
    public let seed: UInt64

    public init(clips: [[Float]], labels: [Int], clipShape: [Int], batchSize: Int, seed: UInt64) {
        self.clips = clips
        self.labels = labels
        self.clipShape = clipShape
        self.batchSize = batchSize
        self.seed = seed
    }

    /// `count` clips of `frames` RGB frames of `imageSize`² whose brightness depends on the label (label i % 3),
    /// so that the task is learnable: every value is `min(1, u · 0.5 + label · 0.25)` with u drawn from
    /// `SeededGenerator(seed: valueSeed)`; the epochs are shuffled from `shuffleSeed`.
    public static func brightnessByLabel(count: Int = 12, frames: Int, imageSize: Int, batchSize: Int,
                                         valueSeed: UInt64 = 5, shuffleSeed: UInt64 = 9) -> InMemoryBatches {
        var generator = SeededGenerator(seed: valueSeed)
        let shape = [frames, 3, imageSize, imageSize]
        let labels = (0..<count).map { $0 % 3 }
        let clips = labels.map { label in
            (0..<shape.reduce(1, *)).map { _ in min(1, generator.uniform() * 0.5 + Float(label) * 0.25) }
        }
        return InMemoryBatches(clips: clips, labels: labels, clipShape: shape, batchSize: batchSize, seed: shuffleSeed)
    }

    public var trainBatchCount: Int { clips.count / batchSize }
    public var testBatchCount: Int { (clips.count + batchSize - 1) / batchSize }

    public func trainBatches(epoch: Int) throws -> AnyIterator<Result<ClipBatch, Error>> {
        var generator = SeededGenerator(seed: seed &+ UInt64(epoch))
        let order = Array(clips.indices).shuffled(using: &generator)
        return batches(Array(order.prefix(trainBatchCount * batchSize)))
    }

    public func testBatches() throws -> AnyIterator<Result<ClipBatch, Error>> {
        batches(Array(clips.indices))
    }

    private func batches(_ order: [Int]) -> AnyIterator<Result<ClipBatch, Error>> {
        var start = 0
        return AnyIterator {
            guard start < order.count else { return nil }
            let members = Array(order[start..<min(order.count, start + batchSize)])
            start += batchSize
            return .success(ClipBatch(shape: [members.count] + clipShape, values: members.flatMap { clips[$0] },
                                      labels: members.map { labels[$0] }, clipIDs: members.map { "\($0)" }))
        }
    }
}
