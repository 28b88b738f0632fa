import FerdCollective
import FerdData
import FerdModels
import FerdTensor
import FerdTestSupport
import FerdTraining
import FerdZeroMQ
import Foundation
import Logging
import XCTest

/// Data-parallel training over the real transport (issue 6): k = 2 `GangMember`s joined through a `GradientHub`
/// on tcp loopback, each running a `Trainer` on its own thread, against the single-process reference that
/// computes each shard's gradient in turn and averages them in rank order in float32
/// (``ShardAveragingReference``, shared with FerdTrainingTests' in-process gang test).
///
/// Model: the full `small` preset (8 frames of 56×56, widths 16/16/32/64/64). Data: 8 learnable synthetic
/// clips, batches of 4 (2 clips per member), 2 epochs of 2 steps, learning rate 1e-3 (the reference code's).
/// Buckets of 64 kB and chunks of 16 kB, so a step's gradients travel in dozens of buckets, sent while the
/// backward pass still runs, and the ring cuts each bucket into several pieces. The three gang runs and the
/// references take about 4 s together.
///
/// With float32 on the wire the results must equal the reference bit for bit, for both topologies: for k = 2
/// each average is (a + b) / 2 computed once (star: the hub adds rank 0's then rank 1's value; ring: the rank
/// owning a segment adds the value received to its own), and float addition is commutative bit for bit, so
/// a + b and b + a are the reference's rank-order sum. Every member then holds those bytes.
final class LoopbackGangTrainingTests: XCTestCase {
    static let model = ModelConfiguration.small

    static let settings = TrainingSettings(model: model, epochs: 2, batchSize: 4, learningRate: 1e-3,
                                           weightDecay: 1e-4, seed: 3)

    static let data = InMemoryBatches.brightnessByLabel(count: 8, frames: model.frames, imageSize: model.imageSize,
                                                        batchSize: settings.batchSize)

    /// The reference, computed once for all tests (it does not depend on the topology).
    nonisolated(unsafe) private static var cachedReference: ShardAveragingReference?

    private var folders: [URL] = []

    override func setUp() {
        // The members and the reference must split their work the same way (results depend on the thread
        // count); one engine thread each also lets the two members run side by side on 2 cores.
        Threading.setCount(1)
    }

    override func tearDown() {
        Threading.setCount(ProcessInfo.processInfo.activeProcessorCount)
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    private func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-loopback-gang-\(UUID().uuidString)")
        folders.append(url)
        return url
    }

    private func reference() throws -> ShardAveragingReference {
        if let cached = Self.cachedReference { return cached }
        let reference = try ShardAveragingReference(size: 2, settings: Self.settings, data: Self.data)
        Self.cachedReference = reference
        return reference
    }

    /// What one member ended with (``MemberRun``, FerdTestSupport) and what its `GangMember` counted.
    @dynamicMemberLookup
    struct LoopbackRun: Sendable {
        var member: MemberRun
        var statistics: GangStatistics

        subscript<Value>(dynamicMember path: KeyPath<MemberRun, Value>) -> Value { member[keyPath: path] }
    }

    /// Two members on their own threads, joined through a fresh hub on loopback, each training `settings`
    /// with its `Trainer`.
    private func trainGang(topology: GangSpec.Topology, precision: GangSpec.Precision) throws -> [LoopbackRun] {
        let fixture = try HubFixture()
        let folders = [folder(), folder()]
        let settings = Self.settings
        let data = Self.data
        return try runOnThreads(2) { rank in
            let member = try fixture.member(fixture.spec(gang: 1, rank: rank, size: 2, topology: topology,
                                                         precision: precision, bucketBytes: 64_000,
                                                         chunkBytes: 16_000, timeout: 60))
            defer { member.close() }
            let run = try MemberRun.train(settings: settings, data: data, runDirectory: folders[rank], gang: member,
                                          logger: fixture.logger)
            return LoopbackRun(member: run, statistics: member.statistics)
        }.map { try $0.get() }
    }

    /// The members agree with each other (digests, evaluation) and really exchanged over the wire.
    private func checkReplicas(_ runs: [LoopbackRun], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(runs[0].digest?.count, 64, label, file: file, line: line)
        XCTAssertEqual(runs[0].digest, runs[1].digest, "\(label): final state digests", file: file, line: line)
        XCTAssertEqual(runs[0].history.map(\.gang?.stateDigest), runs[1].history.map(\.gang?.stateDigest),
                       "\(label): per-epoch digests", file: file, line: line)
        XCTAssertEqual(runs[0].history.map(\.confusion), runs[1].history.map(\.confusion), label, file: file, line: line)
        XCTAssertEqual(runs[0].history.map { $0.confusion.joined().reduce(0, +) }, [8, 8], "\(label): each test clip once",
                       file: file, line: line)
        for (rank, run) in runs.enumerated() {
            XCTAssertTrue(run.completed, label, file: file, line: line)
            XCTAssertEqual(run.history.map(\.gang?.rank), [rank, rank], label, file: file, line: line)
            XCTAssertEqual(run.history.map(\.gang?.steps), [2, 2], label, file: file, line: line)
            XCTAssertEqual(run.statistics.steps, 4, "\(label): rank \(rank)'s gradient exchanges", file: file, line: line)
            XCTAssertGreaterThan(run.statistics.total.bytesSent, 0, label, file: file, line: line)
            XCTAssertGreaterThan(run.statistics.total.bytesReceived, 0, label, file: file, line: line)
        }
    }

    /// Every member equals the reference bit for bit: per-step shard losses, epoch losses, every parameter and
    /// buffer (compared as bit patterns, so even the sign of a zero counts) and the counters.
    private func checkAgainstReference(_ runs: [LoopbackRun], _ label: String) throws {
        let expected = try reference()
        XCTAssertEqual(expected.shardLosses.count, 4)
        for (rank, run) in runs.enumerated() {
            XCTAssertEqual(run.stepLosses, expected.shardLosses.map { Double($0[rank]) }, "\(label): rank \(rank)'s loss per step")
            XCTAssertEqual(run.history.map(\.trainLoss), expected.epochLosses, "\(label): rank \(rank)'s epoch losses")
            XCTAssertEqual(run.counters, expected.counters, label)
            XCTAssertEqual(Set(run.state.keys), Set(expected.state.keys), label)
            var differing: [String] = []
            for (name, values) in expected.state where run.state[name]?.map(\.bitPattern) != values.map(\.bitPattern) {
                differing.append(name)
            }
            XCTAssertEqual(differing.sorted(), [], "\(label): rank \(rank)'s tensors that differ from the reference")
        }
    }

    func testRingFloat32MatchesTheSingleProcessReferenceBitForBit() throws {
        let runs = try trainGang(topology: .ring, precision: .float32)
        checkReplicas(runs, "ring fp32")
        try checkAgainstReference(runs, "ring fp32")
    }

    func testStarFloat32MatchesTheSingleProcessReferenceBitForBit() throws {
        let runs = try trainGang(topology: .star, precision: .float32)
        checkReplicas(runs, "star fp32")
        try checkAgainstReference(runs, "star fp32")
    }

    /// float16 on the wire: the replicas still agree bit for bit (every member uses the same rounded averages;
    /// in the ring, the owner of a segment adds its neighbour's float16 value to its own float32 value, divides
    /// and rounds), and the losses stay close to the float32 run's (which equals the reference, see above).
    ///
    /// The first step's losses come before any exchange, from the same initial parameters: equal exactly.
    /// After that, each averaged gradient is rounded to binary16 (relative error ≤ 2⁻¹¹ per element), and the
    /// epoch loss itself goes through a float16 `allReduce` (its step means rounded by ≤ 2⁻¹¹ · 3 ≈ 1.5e-3).
    /// Measured here: step losses within 1e-5 of float32, epoch losses within 1.3e-4. How much a perturbation
    /// of that size may move these few steps was measured with the reference: multiplying every float32
    /// average by a random 1 ± 2⁻¹¹ moved the 4th step's loss by 7e-4. `lossTolerance` = 5e-3 is above both;
    /// a wrong average moves the losses by 0.1 and more from the second step on, which the test shows with a
    /// reference that sums instead of averaging. (At learning rate 1e-2 these tiny batches train chaotically:
    /// the same ±2⁻¹¹ perturbation moved the 4th step's loss by 0.45, and no useful tolerance exists.)
    static let lossTolerance = 5e-3

    func testRingFloat16KeepsReplicasEqualAndFollowsTheFloat32Losses() throws {
        let runs = try trainGang(topology: .ring, precision: .float16)
        checkReplicas(runs, "ring fp16")
        let float32 = try reference()
        for (rank, run) in runs.enumerated() {
            XCTAssertTrue(run.stepLosses.allSatisfy(\.isFinite), "rank \(rank): \(run.stepLosses)")
            XCTAssertTrue(run.history.allSatisfy { $0.trainLoss.isFinite }, "rank \(rank)")
            let expected = float32.shardLosses.map { Double($0[rank]) }
            XCTAssertEqual(run.stepLosses.first, expected.first, "rank \(rank): the first step precedes any exchange")
            XCTAssertEqual(run.stepLosses.count, expected.count)
            for (step, (got, want)) in zip(run.stepLosses, expected).enumerated() {
                XCTAssertEqual(got, want, accuracy: Self.lossTolerance, "rank \(rank) step \(step + 1)")
            }
            for (got, want) in zip(run.history.map(\.trainLoss), float32.epochLosses) {
                XCTAssertEqual(got, want, accuracy: Self.lossTolerance, "rank \(rank) epoch loss")
            }
        }
        // Not the float32 result: the rounding must have happened.
        XCTAssertNotEqual(runs[0].state.mapValues { $0.map(\.bitPattern) }, float32.state.mapValues { $0.map(\.bitPattern) })
        // The tolerance is not vacuous: gradients summed instead of averaged land far outside it.
        let summed = try ShardAveragingReference(size: 2, settings: Self.settings, data: Self.data) {
            ShardAveragingReference.combine($0, average: false)
        }
        let moved = zip(summed.shardLosses.joined(), float32.shardLosses.joined()).map { abs(Double($0) - Double($1)) }
        XCTAssertGreaterThan(moved.max() ?? 0, 20 * Self.lossTolerance, "\(moved)")
    }
}
