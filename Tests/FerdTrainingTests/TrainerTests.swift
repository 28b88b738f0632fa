import FerdData
import FerdModels
import FerdTensor
import FerdTestSupport
@testable import FerdTraining
import Logging
import XCTest

final class TrainerTests: XCTestCase {
    static let tiny = ModelConfiguration(
        frames: 3, imageSize: 32, widths: [4, 4, 8, 8, 8], reduction: 4,
        spatialTransformer: TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8),
        temporalTransformer: TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8))

    private var folders: [URL] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    private func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-trainer-\(UUID().uuidString)")
        folders.append(url)
        return url
    }

    /// Clips whose brightness depends on the label, so that the task is learnable.
    private func data() -> InMemoryBatches {
        var generator = SeededGenerator(seed: 5)
        let shape = [3, 3, 32, 32]
        let labels = (0..<12).map { $0 % 3 }
        let clips = labels.map { label in
            (0..<shape.reduce(1, *)).map { _ in min(1, generator.uniform() * 0.5 + Float(label) * 0.25) }
        }
        return InMemoryBatches(clips: clips, labels: labels, clipShape: shape, batchSize: 4, seed: 9)
    }

    private var settings: TrainingSettings {
        TrainingSettings(model: Self.tiny, epochs: 3, batchSize: 4, learningRate: 0.01, weightDecay: 1e-4, seed: 3)
    }

    func testRunWritesMetricsAndTheBestCheckpoint() throws {
        Threading.setCount(2)
        let run = folder()
        let trainer = try Trainer(settings: settings, runDirectory: run, resume: false, logger: Logger(label: "test"))
        var steps = 0
        let summary = try trainer.run(data: data(), observe: { event in if case .step = event { steps += 1 } })
        XCTAssertTrue(summary.completed)
        XCTAssertEqual(summary.history.count, 3)
        XCTAssertEqual(steps, 9)
        XCTAssertEqual(summary.history.map(\.confusion).map { $0.joined().reduce(0, +) }, [12, 12, 12])
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[0].contains("\"train_loss\""))
        let best = try SafetensorsFile.read(contentsOf: run.appendingPathComponent("best.safetensors"))
        XCTAssertEqual(best.metadata["epoch"], "\(summary.best!.epoch)")
        XCTAssertNoThrow(try GCAIALModel(checkpoint: best))
    }

    func testInterruptedRunResumesToTheSameResult() throws {
        Threading.setCount(2)
        let uninterrupted = try Trainer(settings: settings, runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        let reference = try uninterrupted.run(data: data())

        let run = folder()
        var steps = 0
        let first = try Trainer(settings: settings, runDirectory: run, resume: false, logger: Logger(label: "test"))
        // Stop in the middle of the second epoch, as Ctrl-C would.
        let partial = try first.run(data: data(), shouldStop: { steps >= 5 },
                                    observe: { event in if case .step = event { steps += 1 } })
        XCTAssertFalse(partial.completed)
        XCTAssertEqual(partial.history.count, 1)

        let resumed = try Trainer(settings: settings, runDirectory: run, resume: true, logger: Logger(label: "test"))
        XCTAssertEqual(resumed.completedEpochs, 1)
        let finished = try resumed.run(data: data())
        XCTAssertEqual(finished.history.map(\.trainLoss), reference.history.map(\.trainLoss))
        XCTAssertEqual(finished.history.map(\.confusion), reference.history.map(\.confusion))
        for name in uninterrupted.model.store.names {
            XCTAssertEqual(resumed.model.store.tensors[name]?.data, uninterrupted.model.store.tensors[name]?.data, name)
        }
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, "the interrupted epoch is not reported twice")
    }

    /// RAN's recomputation changes how a step is computed, not its values: a run may be resumed with it switched
    /// on, and ends where the run without it ends.
    func testARANRunResumedWithRecomputedRegionsEndsWhereThePlainRunEnds() throws {
        Threading.setCount(2)
        var plain = settings
        plain.model.method = .ran
        plain.epochs = 2
        let uninterrupted = try Trainer(settings: plain, runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        let reference = try uninterrupted.run(data: data())

        let run = folder()
        var steps = 0
        _ = try Trainer(settings: plain, runDirectory: run, resume: false, logger: Logger(label: "test"))
            .run(data: data(), shouldStop: { steps >= 3 }, observe: { event in if case .step = event { steps += 1 } })
        var recomputing = plain
        recomputing.model.ranRecompute = true
        let resumed = try Trainer(settings: recomputing, runDirectory: run, resume: true, logger: Logger(label: "test"))
        XCTAssertEqual(resumed.completedEpochs, 1)
        let finished = try resumed.run(data: data())
        XCTAssertEqual(finished.history.count, 2)
        XCTAssertEqual(finished.history.map(\.confusion), reference.history.map(\.confusion))
        for (got, want) in zip(finished.history.map(\.trainLoss), reference.history.map(\.trainLoss)) {
            XCTAssertEqual(got, want, accuracy: 1e-5)
        }
        XCTAssertEqual(resumed.model.store.counters, uninterrupted.model.store.counters)
        for (name, tensor) in uninterrupted.model.store.tensors {
            let got = try XCTUnwrap(resumed.model.store.tensors[name]?.data)
            for (a, b) in zip(got, tensor.data) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), name) }
        }
    }

    func testResumeWithOtherSettingsNamesTheDifference() throws {
        let run = folder()
        _ = try Trainer(settings: settings, runDirectory: run, resume: false, logger: Logger(label: "test")).run(data: data())
        var changed = settings
        changed.learningRate = 0.5
        XCTAssertThrowsError(try Trainer(settings: changed, runDirectory: run, resume: true, logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("lr 0.01 vs 0.5"), "\(error)")
        }
        XCTAssertThrowsError(try Trainer(settings: settings, runDirectory: run, resume: false, logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("--resume"), "\(error)")
        }
    }

    /// A gang trial resumed by a gang of another size: batch and learning rate scaled together are accepted
    /// where asked for, anything else is still refused.
    func testResumeWithARescaledBatchIsAcceptedOnlyWhenAskedAndInProportion() throws {
        let run = folder()
        var stopAfterFirstEpoch = false
        let first = try Trainer(settings: settings, runDirectory: run, resume: false, logger: Logger(label: "test"))
        _ = try first.run(data: data(), shouldStop: { stopAfterFirstEpoch },
                          observe: { event in if case .epoch = event { stopAfterFirstEpoch = true } })
        var halved = settings
        halved.batchSize = 2
        halved.learningRate = settings.learningRate * 2 / 4
        XCTAssertThrowsError(try Trainer(settings: halved, runDirectory: run, resume: true, logger: Logger(label: "test")))
        var unscaled = halved
        unscaled.learningRate = settings.learningRate
        XCTAssertThrowsError(try Trainer(settings: unscaled, runDirectory: run, resume: true, acceptRescaledBatch: true,
                                         logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("batch 4 vs 2"), "\(error)")
        }
        var otherSeed = halved
        otherSeed.seed += 1
        XCTAssertThrowsError(try Trainer(settings: otherSeed, runDirectory: run, resume: true, acceptRescaledBatch: true,
                                         logger: Logger(label: "test")))
        let resumed = try Trainer(settings: halved, runDirectory: run, resume: true, acceptRescaledBatch: true,
                                  logger: Logger(label: "test"))
        XCTAssertEqual(resumed.completedEpochs, 1)
        let finished = try resumed.run(data: InMemoryBatches(clips: data().clips, labels: data().labels,
                                                             clipShape: [3, 3, 32, 32], batchSize: 2, seed: 9))
        XCTAssertEqual(finished.history.count, 3)
        XCTAssertEqual(finished.history.last?.learningRate ?? 0, Double(halved.learningRate), accuracy: 1e-9,
                       "the later epochs train with the new learning rate")
    }
}
