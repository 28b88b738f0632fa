import FerdCluster
import FerdData
import FerdExperiment
import FerdLeaderboard
@testable import FerdRuntime
import FerdTraining
import Foundation
import Logging
import XCTest

/// The glue between experiments, the leaderboard, the cluster and the trainer.
final class RuntimeTests: XCTestCase {
    private var folders: [URL] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    private func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        folders.append(url)
        return url
    }

    func testEmbeddedDemoExperimentIsConfigsDemoYAML() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Configs/demo.yaml")
        XCTAssertEqual(DemoExperiment.yaml + "\n", try String(contentsOf: file, encoding: .utf8))
    }

    func testSubmittingTheSameExperimentAgainResumesIt() throws {
        let directory = try folder()
        let leaderboard = try Leaderboard(path: directory.appendingPathComponent("ferd.db").path, logger: Logger(label: "test"))
        let definition = try ExperimentDefinition.parse(DemoExperiment.yaml)
        let data = DataSource(root: "/data")
        let first = try ExperimentLauncher.plan(definition, leaderboard: leaderboard, data: data, forceNew: false)
        XCTAssertTrue(first.created)
        XCTAssertEqual(first.trials.count, 4)
        let config = try TrialConfiguration.decode(first.trials[0].configJSON)
        XCTAssertEqual(config.data, data)
        XCTAssertEqual(config.settings.model.frames, 8)

        try leaderboard.applyStateChanges([TrialStateChange(trialID: first.trials[0].id, state: .done, attempts: 1)], at: Date())
        let second = try ExperimentLauncher.plan(definition, leaderboard: leaderboard, data: data, forceNew: false)
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.experiment.id, first.experiment.id)
        XCTAssertEqual(second.alreadyDone, 1)
        XCTAssertEqual(second.trials.map(\.id), Array(first.trials.map(\.id).dropFirst()))
        XCTAssertEqual(try leaderboard.trials(experimentID: first.experiment.id).count, 4, "nothing duplicated")

        let fresh = try ExperimentLauncher.plan(definition, leaderboard: leaderboard, data: data, forceNew: true)
        XCTAssertTrue(fresh.created)
        XCTAssertNotEqual(fresh.experiment.id, first.experiment.id)
    }

    func testTrainingTrialRunnerTrainsAFoldAndReportsScores() throws {
        let directory = try folder()
        let dataset = directory.appendingPathComponent("data")
        _ = try SyntheticDataset.write(to: dataset, clips: 30, frames: 16...18, size: 56, seed: 1, classBalance: .balanced)
        let settings = TrainingSettings(model: .small, epochs: 2, batchSize: 4, learningRate: 0.01, weightDecay: 1e-4, seed: 5)
        let configuration = TrialConfiguration(settings: settings, fold: 1, data: DataSource(root: dataset.path), parameters: "{}")
        let steps = StepLog()
        let runner = TrainingTrialRunner(workDirectory: directory.appendingPathComponent("work"), dataRoot: nil,
                                         logger: Logger(label: "test"), progress: { steps.append($0) })
        var epochs: [MetricEvent] = []
        let outcome = try runner.run(trial: Assignment(trialID: 7, attempt: 1, configJSON: configuration.json()),
                                     report: { epochs.append($0) }, cancelled: { false })
        XCTAssertEqual(epochs.map(\.epoch), [1, 2])
        let training = steps.all.filter { $0.phase == .training }
        XCTAssertEqual(Set(training.map(\.epoch)), [1, 2], "the worker's display hears every epoch's steps")
        XCTAssertEqual(training.first, TrialProgress(trialID: 7, attempt: 1, epoch: 1, epochs: 2, phase: .training,
                                                     batch: 1, batches: 6, loss: training.first?.loss))
        XCTAssertNotNil(training.first?.loss)
        XCTAssertEqual(training.filter { $0.epoch == 1 }.map(\.batch), Array(1...6), "24 training clips, batch 4")
        XCTAssertTrue(steps.all.contains { $0.phase == .evaluating && $0.loss == nil })
        guard case let .completed(scores) = outcome else { return XCTFail("trial did not complete: \(outcome)") }
        XCTAssertEqual(scores.confusion.count, 7)
        XCTAssertEqual(scores.confusion.joined().reduce(0, +), 6, "fold 1 tests a fifth of the 30 clips")
        XCTAssertEqual(scores.checkpointSHA256.count, 64)
        let checkpoint = directory.appendingPathComponent("work/trial-7/attempt-1/best.safetensors")
        XCTAssertEqual(try Data(contentsOf: checkpoint).count, scores.checkpointSize)
    }

    /// As the torch engine's: settings that cannot train and a diverged loss end the trial (another attempt would
    /// do the same); anything else may be this worker's and is retried.
    func testSettingsThatCannotTrainAndADivergedLossFailForGood() throws {
        let directory = try folder()
        let dataset = directory.appendingPathComponent("data")
        _ = try SyntheticDataset.write(to: dataset, clips: 20, frames: 8...8, size: 56, seed: 1, classBalance: .balanced)
        let runner = TrainingTrialRunner(workDirectory: directory.appendingPathComponent("work"), dataRoot: nil,
                                         logger: Logger(label: "test"))
        func outcome(_ settings: TrainingSettings, root: String = dataset.path) throws -> TrialOutcome {
            let configuration = TrialConfiguration(settings: settings, fold: 1, data: DataSource(root: root), parameters: "{}")
            return try runner.run(trial: Assignment(trialID: 3, attempt: 1, configJSON: configuration.json()),
                                  report: { _ in }, cancelled: { false })
        }
        let good = TrainingSettings(model: .small, epochs: 2, batchSize: 4, learningRate: 0.01, weightDecay: 1e-4, seed: 5)
        var exploding = good
        exploding.learningRate = 1e30
        guard case let .failed(reason, retryable) = try outcome(exploding) else { return XCTFail("a loss of lr 1e30 stayed finite") }
        XCTAssertFalse(retryable)
        XCTAssertTrue(reason.contains("training diverged"), reason)
        var unsplittable = good
        unsplittable.framesPerSegment = 3
        guard case let .failed(settingsReason, settingsRetryable) = try outcome(unsplittable) else { return XCTFail("3 does not divide 8 frames") }
        XCTAssertFalse(settingsRetryable)
        XCTAssertTrue(settingsReason.contains("training settings"), settingsReason)
        XCTAssertThrowsError(try outcome(good, root: directory.appendingPathComponent("elsewhere").path),
                             "a dataset this worker cannot find is its own problem: thrown, so the attempt is retried")
    }

    func testUnreadableAssignmentIsAClearError() {
        let runner = TrainingTrialRunner(workDirectory: URL(fileURLWithPath: "/tmp"), dataRoot: nil, logger: Logger(label: "test"))
        XCTAssertThrowsError(try runner.run(trial: Assignment(trialID: 1, attempt: 1, configJSON: "{\"x\":1}"),
                                            report: { _ in }, cancelled: { false })) { error in
            XCTAssertTrue("\(error)".contains("same ferd version"), "\(error)")
        }
    }

    func testAWorkFolderServesOneWorkerAtATime() throws {
        let work = try folder().appendingPathComponent("ferd-work")
        var first: WorkFolderLock? = try WorkFolderLock(folder: work)
        XCTAssertThrowsError(try WorkFolderLock(folder: work)) { error in
            XCTAssertTrue("\(error)".contains("another ferd worker is using \(work.path)"), "\(error)")
            XCTAssertTrue("\(error)".contains("its own --work folder"), "\(error)")
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try WorkFolderLock(folder: work), "free again once the first worker is gone")
    }
}

/// The progress a runner reported, from whichever thread.
private final class StepLog: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [TrialProgress] = []

    func append(_ step: TrialProgress) { lock.withLock { steps.append(step) } }

    var all: [TrialProgress] { lock.withLock { steps } }
}
