import FerdData
import FerdModels
import FerdTensor
import FerdTestSupport
@testable import FerdTraining
import Logging
import XCTest

/// Data-parallel training: k trainers with an ``InProcessGang`` against a single-process reference
/// (``ShardAveragingReference``, FerdTestSupport) that computes each shard's gradient in turn and averages
/// them the way the gang does. FerdCollectiveTests' `LoopbackGangTrainingTests` compares real `GangMember`s
/// over tcp loopback with the same reference.
final class GangTrainingTests: XCTestCase {
    /// The small preset cut down to 3 frames of 32×32.
    static let model: ModelConfiguration = {
        var configuration = ModelConfiguration.small
        configuration.frames = 3
        configuration.imageSize = 32
        return configuration
    }()

    private var folders: [URL] = []

    override func setUp() {
        Threading.setCount(1)
    }

    override func tearDown() {
        Threading.setCount(ProcessInfo.processInfo.activeProcessorCount)
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    private func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-gang-\(UUID().uuidString)")
        folders.append(url)
        return url
    }

    private func settings(epochs: Int, batch: Int = 4) -> TrainingSettings {
        TrainingSettings(model: Self.model, epochs: epochs, batchSize: batch, learningRate: 0.01, weightDecay: 1e-4, seed: 3)
    }

    /// 12 clips whose brightness depends on the label; batches of 4.
    private func data(batch: Int = 4) -> InMemoryBatches {
        InMemoryBatches.brightnessByLabel(count: 12, frames: 3, imageSize: 32, batchSize: batch)
    }

    private func trainGang(size: Int, settings: TrainingSettings, stoppingRank: Int? = nil,
                           perturb: ((Int, Int, inout [Float]) -> Void)? = nil) -> [Result<MemberRun, Error>] {
        let gang = InProcessGang(size: size)
        let members = gang.members(perturb: perturb)
        let folders = (0..<size).map { _ in folder() }
        let data = data(batch: settings.batchSize)
        return runOnThreads(size, onFailure: { rank, error in gang.abandon("rank \(rank) failed: \(error)") }) { rank in
            try MemberRun.train(settings: settings, data: data, runDirectory: folders[rank], gang: members[rank],
                                logger: Logger(label: "test"), shouldStop: { rank == stoppingRank })
        }
    }

    /// The single-process reference (FerdTestSupport), on the same data.
    private func reference(size: Int, settings: TrainingSettings) throws -> ShardAveragingReference {
        try ShardAveragingReference(size: size, settings: settings, data: data(batch: settings.batchSize))
    }

    func testTwoMembersMatchTheSingleProcessReferenceBitForBit() throws {
        let settings = settings(epochs: 2)
        let runs = try trainGang(size: 2, settings: settings).map { try $0.get() }
        let expected = try reference(size: 2, settings: settings)

        XCTAssertEqual(runs[0].digest, runs[1].digest)
        XCTAssertEqual(runs[0].history.map(\.gang?.stateDigest), runs[1].history.map(\.gang?.stateDigest))
        XCTAssertEqual(runs[0].digest?.count, 64)
        for (rank, run) in runs.enumerated() {
            XCTAssertEqual(run.stepLosses, expected.shardLosses.map { Double($0[rank]) }, "rank \(rank)'s loss per step")
            XCTAssertEqual(run.history.map(\.trainLoss), expected.epochLosses)
            XCTAssertEqual(run.counters, expected.counters)
            XCTAssertEqual(Set(run.state.keys), Set(expected.state.keys))
            for (name, values) in expected.state {
                XCTAssertTrue(run.state[name] == values, "rank \(rank): \(name) differs from the reference")
            }
            XCTAssertEqual(run.history.map(\.gang?.steps), [3, 3])
            XCTAssertEqual(run.history.map(\.gang?.rank), [rank, rank])
        }
        XCTAssertEqual(runs[0].history.map(\.confusion), runs[1].history.map(\.confusion))
        XCTAssertEqual(runs[0].history.map { $0.confusion.joined().reduce(0, +) }, [12, 12], "each test clip counted once")
        XCTAssertEqual(runs[0].history.map(\.uar), runs[1].history.map(\.uar))
    }

    func testBatchNormStatisticsAreTheMembersMean() throws {
        let settings = settings(epochs: 1)
        let runs = try trainGang(size: 2, settings: settings).map { try $0.get() }
        let expected = try reference(size: 2, settings: settings)
        let shards = expected.buffersBeforeAveraging
        XCTAssertFalse(shards[0].isEmpty)
        XCTAssertNotEqual(shards[0], shards[1], "the members' shards give different statistics")
        for (name, first) in shards[0] {
            let mean = zip(first, shards[1][name]!).map { ($0 + $1) / 2 }
            for run in runs { XCTAssertTrue(run.state[name] == mean, "\(name) is not the members' mean") }
        }
    }

    func testAGangOfOneTrainsExactlyLikeNoGang() throws {
        let settings = settings(epochs: 2)
        let alone = try Trainer(settings: settings, runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        let summary = try alone.run(data: data())
        let gang = try trainGang(size: 1, settings: settings)[0].get()
        XCTAssertEqual(gang.history.map(\.trainLoss), summary.history.map(\.trainLoss))
        XCTAssertEqual(gang.history.map(\.confusion), summary.history.map(\.confusion))
        for (name, tensor) in alone.model.store.tensors {
            XCTAssertTrue(gang.state[name] == tensor.data, name)
        }
        XCTAssertNil(alone.stateDigest)
        XCTAssertNil(summary.history[0].gang)
    }

    func testAStopRequestOnOneMemberStopsTheGangAfterTheEpoch() throws {
        let runs = try trainGang(size: 2, settings: settings(epochs: 3), stoppingRank: 1).map { try $0.get() }
        for run in runs {
            XCTAssertFalse(run.completed)
            XCTAssertEqual(run.history.count, 1)
            XCTAssertEqual(run.stepLosses.count, 3, "the epoch in progress is finished")
        }
    }

    func testDivergedReplicasStopTheTrialNamingTheRank() {
        let results = trainGang(size: 2, settings: settings(epochs: 2)) { rank, index, average in
            if rank == 1 && index == 0 { average[0] += 1e-3 }
        }
        for result in results {
            XCTAssertThrowsError(try result.get()) { error in
                guard case let .replicasDiverged(ranks, _) = error as? TrainingError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(ranks, [1])
                XCTAssertTrue("\(error)".contains("rank 1 holds"), "\(error)")
                XCTAssertTrue("\(error)".contains("after epoch 1"), "\(error)")
            }
        }
    }

    func testABatchThatDoesNotSplitOverTheGangIsRefused() {
        let gang = InProcessGang(size: 3)
        XCTAssertThrowsError(try Trainer(settings: settings(epochs: 1), runDirectory: folder(), resume: false,
                                         logger: Logger(label: "test"), gang: gang.members()[0])) { error in
            XCTAssertEqual(error as? TrainingError,
                           .settings("batch size 4 cannot be split evenly over the 3 workers of the gang; use a multiple of 3"))
        }
    }
}
