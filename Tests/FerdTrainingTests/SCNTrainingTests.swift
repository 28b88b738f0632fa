import FerdData
import FerdModels
import FerdTensor
import FerdTestSupport
@testable import FerdTraining
import Logging
import XCTest

/// SCN's relabelling in the trainer: training batches only, from the relabel epoch on, kept across a resume and
/// identical on every member of a gang.
final class SCNTrainingTests: XCTestCase {
    /// SCN's ResNet-18 with 4…8 channels on 3 frames of 32×32.
    static let model: ModelConfiguration = {
        var configuration = ModelConfiguration.preset(named: "small", method: .scn)!
        configuration.frames = 3
        configuration.imageSize = 32
        configuration.widths = [4, 4, 8, 8, 8]
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
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-scn-\(UUID().uuidString)")
        folders.append(url)
        return url
    }

    /// Relabelling from epoch 2 with δ2 = 0: every clip whose prediction is not its label is relabelled.
    private func settings(epochs: Int = 3, relabelEpoch: Int = 2, margin: Float = 0) -> TrainingSettings {
        var methodLoss = MethodLossSettings.defaults
        methodLoss.scn.relabelEpoch = relabelEpoch
        methodLoss.scn.relabelMargin = margin
        return TrainingSettings(model: Self.model, epochs: epochs, batchSize: 4, learningRate: 0.01, weightDecay: 1e-4,
                                methodLoss: methodLoss, seed: 3)
    }

    private func data() -> InMemoryBatches {
        InMemoryBatches.brightnessByLabel(count: 12, frames: 3, imageSize: 32, batchSize: 4)
    }

    func testLabelsChangeFromTheRelabelEpochOnAndAreReportedPerEpoch() throws {
        let trainer = try Trainer(settings: settings(), runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        let summary = try trainer.run(data: data())
        XCTAssertNil(summary.history[0].relabels, "epoch 1 comes before the relabel epoch")
        let reports = summary.history.dropFirst().compactMap(\.relabels)
        XCTAssertEqual(reports.count, 2)
        XCTAssertGreaterThan(reports[0].changed, 0, "δ2 = 0 relabels every clip the model gets wrong")
        XCTAssertEqual(reports.map { $0.changes.joined().reduce(0, +) }, reports.map(\.changed))
        XCTAssertEqual(reports.last?.relabelledByClass.reduce(0, +),
                       trainer.labels.entries.values.filter { $0.current != $0.original }.count)
        for (clip, entry) in trainer.labels.entries {
            XCTAssertEqual(entry.original, Int(clip)! % 3, "clip \(clip)'s original is its dataset label")
        }
    }

    func testAHugeMarginNeverRelabelsAndOtherMethodsNeverDo() throws {
        let strict = try Trainer(settings: settings(margin: 1), runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        let history = try strict.run(data: data()).history
        XCTAssertEqual(history.dropFirst().map { $0.relabels?.changed }, [0, 0])
        XCTAssertTrue(strict.labels.entries.isEmpty)

        var gca = settings()
        gca.model = ModelConfiguration.small
        gca.model.frames = 3
        gca.model.imageSize = 32
        let other = try Trainer(settings: gca, runDirectory: folder(), resume: false, logger: Logger(label: "test"))
        XCTAssertTrue(try other.run(data: data()).history.allSatisfy { $0.relabels == nil })
    }

    func testAResumedRunContinuesWithTheSameLabels() throws {
        let uninterrupted = try Trainer(settings: settings(epochs: 4), runDirectory: folder(), resume: false,
                                        logger: Logger(label: "test"))
        let reference = try uninterrupted.run(data: data())

        let run = folder()
        var steps = 0
        let first = try Trainer(settings: settings(epochs: 4), runDirectory: run, resume: false, logger: Logger(label: "test"))
        // Stop in the middle of the third epoch, after labels changed in the second.
        let partial = try first.run(data: data(), shouldStop: { steps >= 7 },
                                    observe: { event in if case .step = event { steps += 1 } })
        XCTAssertEqual(partial.history.count, 2)
        XCTAssertFalse(first.labels.entries.isEmpty)

        let resumed = try Trainer(settings: settings(epochs: 4), runDirectory: run, resume: true, logger: Logger(label: "test"))
        XCTAssertEqual(resumed.labels, first.labels, "the resume checkpoint holds the labels of epoch 2")
        let finished = try resumed.run(data: data())
        XCTAssertEqual(finished.history.map(\.relabels), reference.history.map(\.relabels))
        XCTAssertEqual(finished.history.map(\.trainLoss), reference.history.map(\.trainLoss))
        XCTAssertEqual(resumed.labels, uninterrupted.labels)
    }

    func testTheMembersOfAGangHoldTheSameLabels() throws {
        let gang = InProcessGang(size: 2)
        let members = gang.members(perturb: nil)
        let folders = (0..<2).map { _ in folder() }
        let settings = settings()
        let data = data()
        let runs = try runOnThreads(2, onFailure: { rank, error in gang.abandon("rank \(rank) failed: \(error)") }) { rank in
            try MemberRun.train(settings: settings, data: data, runDirectory: folders[rank], gang: members[rank],
                                logger: Logger(label: "test"))
        }.map { try $0.get() }
        XCTAssertFalse(runs[0].labels.entries.isEmpty)
        XCTAssertEqual(runs[0].labels, runs[1].labels)
        XCTAssertEqual(runs[0].history.map(\.relabels), runs[1].history.map(\.relabels))
        XCTAssertEqual(runs[0].digest, runs[1].digest)
        XCTAssertEqual(runs[0].history.last?.relabels?.relabelledByClass.reduce(0, +),
                       runs[0].labels.entries.values.filter { $0.current != $0.original }.count)
    }
}
