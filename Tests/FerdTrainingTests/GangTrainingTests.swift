import FerdData
import FerdModels
import FerdTensor
@testable import FerdTraining
import Logging
import XCTest

/// Data-parallel training: k trainers with an ``InProcessGang`` against a single-process reference that
/// computes each shard's gradient in turn and averages them the way the gang does.
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
        var generator = SeededGenerator(seed: 5)
        let shape = [3, 3, 32, 32]
        let labels = (0..<12).map { $0 % 3 }
        let clips = labels.map { label in
            (0..<shape.reduce(1, *)).map { _ in min(1, generator.uniform() * 0.5 + Float(label) * 0.25) }
        }
        return InMemoryBatches(clips: clips, labels: labels, clipShape: shape, batchSize: batch, seed: 9)
    }

    /// What one member ended with.
    struct MemberRun: Sendable {
        var stepLosses: [Double]
        var history: [EpochReport]
        var completed: Bool
        var state: [String: [Float]]
        var counters: [String: Int64]
        var digest: String?
    }

    private func trainGang(size: Int, settings: TrainingSettings, stoppingRank: Int? = nil,
                           perturb: ((Int, Int, inout [Float]) -> Void)? = nil) -> [Result<MemberRun, Error>] {
        let gang = InProcessGang(size: size)
        let members = gang.members(perturb: perturb)
        let folders = (0..<size).map { _ in folder() }
        let data = data(batch: settings.batchSize)
        return runGang(gang) { rank in
            let trainer = try Trainer(settings: settings, runDirectory: folders[rank], resume: false,
                                      logger: Logger(label: "test"), gang: members[rank])
            var losses: [Double] = []
            let summary = try trainer.run(data: data, shouldStop: { rank == stoppingRank }, observe: { event in
                if case let .step(_, _, _, loss) = event { losses.append(loss) }
            })
            return MemberRun(stepLosses: losses, history: summary.history, completed: summary.completed,
                             state: trainer.model.store.tensors.mapValues(\.data),
                             counters: trainer.model.store.counters, digest: trainer.stateDigest)
        }
    }

    /// What the single-process reference computed.
    struct Reference {
        /// Loss of each shard at each step: [step][rank].
        var shardLosses: [[Float]]
        var epochLosses: [Double]
        var state: [String: [Float]]
        var counters: [String: Int64]
        /// Each shard's float buffers just before the last epoch's averaging: [rank][name].
        var buffersBeforeAveraging: [[String: [Float]]]
    }

    /// From the same initial parameters: for every batch, each shard's loss and gradient in turn (each
    /// shard with its own batch-norm running statistics, as on its member), the gradients averaged with
    /// ``InProcessGang/combine(_:average:)``, one SGD step; the running statistics averaged after each epoch.
    private func reference(size: Int, settings: TrainingSettings) throws -> Reference {
        let model = try GCAIALModel(configuration: settings.model, seed: settings.seed)
        let store = model.store
        let bufferNames = store.names.filter { store.roles[$0] == .buffer }
        var optimizer = SGD(learningRate: settings.learningRate, momentum: settings.momentum, weightDecay: settings.weightDecay)
        var shardBuffers = Array(repeating: bufferNames.map { store.tensors[$0]!.data }, count: size)
        var shardCounters = Array(repeating: store.counters, count: size)
        var result = Reference(shardLosses: [], epochLosses: [], state: [:], counters: [:], buffersBeforeAveraging: [])
        for epoch in 0..<settings.epochs {
            optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
            var epochLosses: [[Float]] = []
            for next in try data(batch: settings.batchSize).trainBatches(epoch: epoch) {
                let batch = try next.get()
                var gradients: [[[Float]?]] = []
                var losses: [Float] = []
                for rank in 0..<size {
                    for (name, values) in zip(bufferNames, shardBuffers[rank]) { store.tensors[name]!.data = values }
                    store.counters = shardCounters[rank]
                    let part = batch.selecting(ClipShard(rank: rank, count: size))
                    let loss = try model(Tensor(shape: part.shape, data: part.values), training: true)
                        .loss(targets: part.labels, weights: settings.loss).total
                    loss.backward()
                    gradients.append(model.parameters.map(\.grad))
                    for parameter in model.parameters { parameter.grad = nil }
                    shardBuffers[rank] = bufferNames.map { store.tensors[$0]!.data }
                    shardCounters[rank] = store.counters
                    losses.append(loss.item)
                }
                for (index, parameter) in model.parameters.enumerated() where gradients[0][index] != nil {
                    parameter.grad = InProcessGang.combine(gradients.map { $0[index]! }, average: true)
                }
                optimizer.step(model.parameters)
                result.shardLosses.append(losses)
                epochLosses.append(losses)
            }
            result.buffersBeforeAveraging = shardBuffers.map { Dictionary(uniqueKeysWithValues: zip(bufferNames, $0)) }
            let averaged = bufferNames.indices.map { b in InProcessGang.combine(shardBuffers.map { $0[b] }, average: true) }
            shardBuffers = Array(repeating: averaged, count: size)
            for (name, values) in zip(bufferNames, averaged) { store.tensors[name]!.data = values }
            store.counters = shardCounters[0]
            let stepMeans = epochLosses.map { InProcessGang.combine($0.map { [$0] }, average: true)[0] }
            result.epochLosses.append(stepMeans.reduce(0.0) { $0 + Double($1) } / Double(stepMeans.count))
        }
        result.state = store.tensors.mapValues(\.data)
        result.counters = store.counters
        return result
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
