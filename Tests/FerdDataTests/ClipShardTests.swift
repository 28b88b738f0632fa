@testable import FerdData
import Logging
import XCTest

/// `ClipLoader.batches(epoch:shard:)`: the members' shards of a batch are that batch, clip for clip and
/// value for value, augmentation included.
final class ClipShardTests: XCTestCase {
    private var root = ""
    private let quiet: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-shard-\(UUID())").path
        _ = try SyntheticDataset(clips: 14, frames: 4...20, size: 16, seed: 8)
            .write(to: URL(fileURLWithPath: root + "/dataset"), logger: quiet)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func loader(_ mode: SamplingMode, batch: Int = 4) throws -> ClipLoader {
        let clips = try DatasetIndex.load(root: root + "/dataset", logger: quiet).distinctClips().map(\.record)
        var options = ClipLoaderOptions(mode: mode, sampler: ClipSampler(segments: 4), size: 16, batchSize: batch, seed: 11)
        options.workers = 2
        return try ClipLoader(clips: clips, store: .jpegFolders, options: options, logger: quiet)
    }

    /// Interleaves the members' parts of one batch back into batch order (member r holds places r, r+k, …).
    private func interleave(_ parts: [ClipBatch]) -> (ids: [String], labels: [Int], values: [Float]) {
        let clipFloats = parts[0].shape.dropFirst().reduce(1, *)
        var ids: [String] = [], labels: [Int] = [], values: [Float] = []
        for place in 0..<parts.map(\.labels.count).reduce(0, +) {
            let part = parts[place % parts.count], index = place / parts.count
            ids.append(part.clipIDs[index])
            labels.append(part.labels[index])
            values += part.values[(index * clipFloats)..<((index + 1) * clipFloats)]
        }
        return (ids, labels, values)
    }

    private func assertShardsMakeTheWhole(_ loader: ClipLoader, epoch: Int, members: Int,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = try loader.batches(epoch: epoch).map { try $0.get() }
        let parts = try (0..<members).map { rank in
            try loader.batches(epoch: epoch, shard: ClipShard(rank: rank, count: members)).map { try $0.get() }
        }
        for part in parts { XCTAssertEqual(part.count, whole.count, "every member sees every batch", file: file, line: line) }
        for (b, batch) in whole.enumerated() {
            let joined = interleave(parts.map { $0[b] })
            XCTAssertEqual(joined.ids, batch.clipIDs, "batch \(b)", file: file, line: line)
            XCTAssertEqual(joined.labels, batch.labels, "batch \(b)", file: file, line: line)
            XCTAssertTrue(joined.values == batch.values, "batch \(b): values differ", file: file, line: line)
        }
    }

    func testTrainingShardsAreTheAugmentedBatchSplit() throws {
        let train = try loader(.train)
        for members in [1, 2, 4] {
            try assertShardsMakeTheWhole(train, epoch: 1, members: members)
        }
        let part = try train.batches(epoch: 1, shard: ClipShard(rank: 1, count: 2)).map { try $0.get() }
        XCTAssertEqual(part.map(\.shape[0]), [2, 2, 2], "three batches of 4, two clips each")
    }

    func testTestShardsCoverAnIncompleteLastBatch() throws {
        let test = try loader(.test)
        try assertShardsMakeTheWhole(test, epoch: 0, members: 4)
        let last = try test.batches(epoch: 0, shard: ClipShard(rank: 3, count: 4)).map { try $0.get() }.last!
        XCTAssertEqual(last.shape[0], 0, "14 clips: the last batch of 2 leaves members 2 and 3 without a clip")
    }

    func testBatchSelectionMatchesTheLoader() throws {
        let train = try loader(.train)
        let whole = try train.batches(epoch: 0).map { try $0.get() }
        let part = try train.batches(epoch: 0, shard: ClipShard(rank: 1, count: 2)).map { try $0.get() }
        for (batch, shard) in zip(whole, part) {
            let selected = batch.selecting(ClipShard(rank: 1, count: 2))
            XCTAssertEqual(selected.clipIDs, shard.clipIDs)
            XCTAssertTrue(selected.values == shard.values)
        }
    }

    func testABatchThatDoesNotSplitIsRefused() throws {
        let train = try loader(.train, batch: 5)
        XCTAssertThrowsError(try train.batches(epoch: 0, shard: ClipShard(rank: 0, count: 2))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("5 clips") && text.contains("2 workers"), text)
        }
    }
}
