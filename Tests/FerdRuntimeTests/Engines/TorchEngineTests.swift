import FerdCluster
import FerdCollective
import FerdData
import FerdExperiment
import FerdModels
import FerdTensor
import FerdTraining
import FerdZeroMQ
import Foundation
import Logging
import Synchronization
import XCTest
@testable import FerdRuntime

/// The PyTorch engine against the Swift engine on the same packed cache: the same training from the same
/// weights, trials that move between the engines through resume checkpoints, and the worker's torch runner end
/// to end. Needs a Python with torch (`make test` installs Debian's python3-torch); without one the tests fail.
final class TorchEngineTests: XCTestCase {
    /// 50 clips: fold 1 trains on 40 (20 steps of 2) and tests on 10.
    static let clips = 50
    nonisolated(unsafe) static var fixture: (python: TorchPython, data: URL, cache: URL)?
    private var folder: URL!
    private var logger: Logger = {
        var logger = Logger(label: "test.torch")
        logger.logLevel = .warning
        return logger
    }()

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("torch-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if Self.fixture == nil {
            let python = try TorchPython.locate()
            let shared = FileManager.default.temporaryDirectory.appendingPathComponent("torch-engine-data-\(UUID().uuidString)")
            let data = shared.appendingPathComponent("data"), cache = shared.appendingPathComponent("cache")
            _ = try SyntheticDataset.write(to: data, clips: Self.clips, frames: 10...14, size: 64, seed: 3,
                                           classBalance: .balanced, logger: logger)
            _ = try PackedCacheWriter.prepare(dataRoot: data.path, cacheDirectory: cache.path,
                                              options: PrepareOptions(size: 64), logger: logger)
            Self.fixture = (python, data, cache)
        }
        Threading.setCount(2)
    }

    override func tearDownWithError() throws {
        if ProcessInfo.processInfo.environment["FERD_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: folder) }
    }

    /// The reference code's optimiser (lr 1e-3, momentum 0.9, weight decay 0.1) on the small preset.
    private var settings: TrainingSettings {
        TrainingSettings(model: .small, epochs: 1, batchSize: 2, bestBy: .uar, seed: 11)
    }

    private func configuration(_ settings: TrainingSettings) -> TrialConfiguration {
        TrialConfiguration(settings: settings, fold: 1,
                           data: DataSource(root: Self.fixture!.data.path, cache: Self.fixture!.cache.path),
                           parameters: #"{"lambda":0.1}"#, engine: EngineSettings(choice: .torch))
    }

    private func torchRunner() -> EngineTrialRunner {
        EngineTrialRunner(options: TorchWorkerOptions(python: Self.fixture!.python, device: .cpu, gpus: [], threads: 2),
                          workDirectory: folder.appendingPathComponent("torch-work"), dataRoot: nil, logger: logger)
    }

    /// Runs `python -m ferd_torch` on `spec` to its end and returns its events.
    private func runEngine(_ spec: EngineSpec) throws -> [[String: Any]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.fixture!.python.executable)
        process.arguments = ["-m", "ferd_torch"]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Engines/torch").standardizedFileURL.path
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: try spec.json())
        try input.fileHandleForWriting.close()
        let stderr = Thread.detachedData(errors.fileHandleForReading)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let log = String(decoding: stderr.wait(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "engine log:\n\(log.suffix(3000))")
        return String(decoding: stdout, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// A Swift run of one epoch (20 steps) with `threads` engine threads: its step losses and final state.
    /// ferd's run of `settings`; with `nudged`, every initial weight is moved up by one float32 step (a perturbation
    /// the size of one rounding) after the initial weights were written.
    private func swiftRun(_ settings: TrainingSettings, threads: Int, name: String, nudged: Bool = false) throws
        -> (steps: [Double], mean: Double, state: SafetensorsFile, initial: URL) {
        Threading.setCount(threads)
        defer { Threading.setCount(2) }
        let run = folder.appendingPathComponent(name)
        let data = try FoldBatches(source: configuration(settings).data, fold: 1, settings: settings, logger: logger)
        XCTAssertEqual(data.trainBatchCount, 20)
        let trainer = try Trainer(settings: settings, runDirectory: run, resume: false, logger: logger)
        let initial = folder.appendingPathComponent("initial.safetensors")
        try trainer.model.checkpoint().write(to: initial)
        if nudged {
            for parameter in trainer.model.parameters { parameter.data = parameter.data.map(\.nextUp) }
        }
        var steps: [Double] = []
        let summary = try trainer.run(data: data, observe: { event in
            if case let .step(_, _, _, loss) = event { steps.append(loss) }
        })
        return (steps, summary.history[0].trainLoss,
                try SafetensorsFile.read(contentsOf: run.appendingPathComponent("resume.safetensors")), initial)
    }

    /// The largest difference between two states' weights and buffers, relative to max(1, |w|).
    private func largestDifference(_ a: SafetensorsFile, _ b: SafetensorsFile) throws -> (name: String, value: Float) {
        var worst = (name: "", value: Float(0))
        for (name, tensor) in a.tensors where !name.hasPrefix("optimizer.") {
            let other = try XCTUnwrap(b.tensors[name], "the other state lacks \(name)")
            XCTAssertEqual(other.shape, tensor.shape, name)
            for (x, y) in zip(tensor.values, other.values) where abs(x - y) / max(1, abs(x)) > worst.value {
                worst = (name, abs(x - y) / max(1, abs(x)))
            }
        }
        return worst
    }

    /// 20 steps of the small preset from the same weights on the same batches. Training this model on batches of 2
    /// amplifies float32 rounding (ferd's own runs part after about 8 steps with another thread count, or with every
    /// initial weight one float32 step higher), so the first steps must agree to float precision and the later
    /// per-step losses and the end state as closely as those rounding-sized perturbations of ferd's own run allow.
    func testSwiftAndTorchTrainTheSameModelFromTheSameWeights() throws {
        let settings = settings
        let one = try swiftRun(settings, threads: 1, name: "swift-1")
        let two = try swiftRun(settings, threads: 2, name: "swift-2")
        let nudged = try swiftRun(settings, threads: 2, name: "swift-nudged", nudged: true)
        let torchRun = folder.appendingPathComponent("torch")
        try FileManager.default.createDirectory(at: torchRun, withIntermediateDirectories: true)
        var spec = EngineSpec(configuration: configuration(settings), engine: EngineSettings(choice: .torch),
                              trial: Assignment(trialID: 1, attempt: 1, configJSON: "{}"), folder: torchRun,
                              resumeFrom: nil, device: .cpu, threads: 2, distributed: nil, progressSeconds: 0)
        spec.initFrom = two.initial
        let events = try runEngine(spec)
        let torchSteps = events.filter { $0["event"] as? String == "progress" && $0["phase"] as? String == "train" }
            .compactMap { $0["loss"] as? Double }
        XCTAssertEqual(torchSteps.count, 20)
        for step in 0..<3 {
            XCTAssertEqual(torchSteps[step], two.steps[step], accuracy: 2e-5 * abs(two.steps[step]), "loss of step \(step + 1)")
        }
        let epoch = try XCTUnwrap(events.first { $0["event"] as? String == "epoch" })
        let torchMean = try XCTUnwrap(epoch["train_loss"] as? Double)
        // Past the first steps the runs part chaotically (each step's loss moves by ~0.1 either way), so the
        // per-step deviation from ferd's run is compared as a root mean square, not the 20 steps' mean loss.
        func deviation(_ steps: [Double]) -> Double {
            (zip(steps, two.steps).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(two.steps.count)).squareRoot()
        }
        let noise = max(deviation(one.steps), deviation(nudged.steps))
        print("torch parity: mean loss over 20 steps swift \(two.mean) (1 thread \(one.mean), nudged \(nudged.mean)), torch \(torchMean); rms step deviation from swift: 1 thread \(deviation(one.steps)), nudged \(deviation(nudged.steps)), torch \(deviation(torchSteps))")
        XCTAssertLessThanOrEqual(deviation(torchSteps), 3 * noise + 1e-5, "per-step losses vs ferd's own rounding noise \(noise)")
        let checkpoint = try XCTUnwrap(events.first { $0["event"] as? String == "checkpoint" }?["file"] as? String)
        let torchState = try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: checkpoint))
        let threadDrift = try largestDifference(one.state, two.state)
        let nudgeDrift = try largestDifference(nudged.state, two.state)
        let own = threadDrift.value >= nudgeDrift.value ? threadDrift : nudgeDrift
        let across = try largestDifference(two.state, torchState)
        print("torch parity: largest state difference after 20 steps: swift 1 vs 2 threads \(threadDrift.value) (\(threadDrift.name)), swift vs nudged \(nudgeDrift.value) (\(nudgeDrift.name)), swift vs torch \(across.value) (\(across.name))")
        XCTAssertLessThanOrEqual(across.value, 3 * own.value + 1e-5, "swift vs torch, worst \(across.name)")
        XCTAssertEqual(Set(torchState.integerTensors.keys), Set(two.state.integerTensors.keys), "num_batches_tracked buffers")
        XCTAssertEqual(Set(torchState.tensors.keys.filter { !$0.hasPrefix("optimizer.") }),
                       Set(two.state.tensors.keys.filter { !$0.hasPrefix("optimizer.") }), "the same state_dict keys")
    }

    /// A `workers_per_trial: 2` trial on two torch workers: the members meet through a real gradient hub, train with
    /// torch.distributed (gloo), and only rank 0 reports epochs; both complete with the same best epoch.
    func testATorchGangMeetsThroughTheHubAndTrainsTogether() throws {
        var settings = settings
        settings.batchSize = 4
        var configuration = configuration(settings)
        configuration.workersPerTrial = 2
        let hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: try ZMQContext(), logger: logger)
        defer { hub.stop() }
        let outcomes = Mutex([Int: TrialOutcome]())
        let reports = Mutex([Int: [Int]]())
        let json = configuration.json()
        let done = DispatchGroup()
        for rank in 0..<2 {
            let runner = EngineTrialRunner(options: TorchWorkerOptions(python: Self.fixture!.python, device: .cpu, gpus: [], threads: 1),
                                           workDirectory: folder.appendingPathComponent("gang-\(rank)"), dataRoot: nil,
                                           logger: logger)
            let assignment = Assignment(trialID: 9, attempt: 1, configJSON: json,
                                        gang: GangPlacement(gangID: 77, rank: rank, size: 2, hubEndpoint: hub.boundEndpoint))
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let outcome = try runner.run(trial: assignment, resumeFile: nil,
                                                 report: { event in reports.withLock { $0[rank, default: []].append(event.epoch) } },
                                                 cancelled: { false }, aborted: { false })
                    outcomes.withLock { $0[rank] = outcome }
                } catch {
                    outcomes.withLock { $0[rank] = .failed(reason: "\(error)", retryable: false) }
                }
            }
        }
        // A member that fails or never starts ends the other's wait at the rendezvous after the runner's gang
        // timeout (120 s), so both outcomes, with their reasons, are in well before this wait ends.
        let finishedInTime = done.wait(timeout: .now() + 300) == .success
        let finished = outcomes.withLock { $0 }
        guard finishedInTime, finished.values.allSatisfy({ if case .completed = $0 { true } else { false } }) else {
            let logs = (0..<2).map { rank in
                let log = folder.appendingPathComponent("gang-\(rank)/trial-9/attempt-1/engine.log")
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? "(no engine log)"
                return "rank \(rank): \(String(describing: finished[rank]))\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
            }
            return XCTFail("the gang did not complete\(finishedInTime ? "" : " within 300 s"):\n" + logs.joined(separator: "\n"))
        }
        XCTAssertEqual(reports.withLock { $0 }, [0: [1]], "rank 0 reports the epoch, rank 1 does not")
        for rank in 0..<2 {
            guard case let .completed(scores)? = finished[rank] else { return XCTFail("rank \(rank): \(String(describing: finished[rank]))") }
            XCTAssertEqual(scores.bestEpoch, 1)
        }
        guard case let .completed(first)? = finished[0], case let .completed(second)? = finished[1] else { return }
        XCTAssertEqual(first.confusion, second.confusion, "both members evaluated the whole test set together")
        XCTAssertGreaterThan(first.checkpointSize, 0, "rank 0 wrote the best checkpoint")
    }

    /// Trains epoch 1 with the Swift runner, stopping there, and returns its resume bundle.
    private func swiftFirstEpoch(_ settings: TrainingSettings) throws -> URL {
        let runner = TrainingTrialRunner(workDirectory: folder.appendingPathComponent("swift-work"), dataRoot: nil, logger: logger)
        var bundle: URL?
        let outcome = try runner.run(trial: Assignment(trialID: 7, attempt: 1, configJSON: configuration(settings).json()),
                                     report: { bundle = $0.resumeCheckpoint?.file }, cancelled: { bundle != nil })
        guard case .failed = outcome else { throw XCTSkip("the Swift attempt was meant to stop after epoch 1") }
        let kept = folder.appendingPathComponent("swift-epoch-1.safetensors")
        try FileManager.default.copyItem(at: try XCTUnwrap(bundle), to: kept)
        return kept
    }

    func testATrialStartedInSwiftFinishesInTorch() throws {
        var settings = settings
        settings.epochs = 2
        let bundle = try swiftFirstEpoch(settings)
        var reports: [MetricEvent] = []
        let outcome = try torchRunner().run(trial: Assignment(trialID: 7, attempt: 2, configJSON: configuration(settings).json()),
                                            resumeFile: bundle, report: { reports.append($0) }, cancelled: { false },
                                            aborted: { false })
        XCTAssertEqual(reports.map(\.epoch), [2], "the torch attempt trains only epoch 2")
        guard case let .completed(scores) = outcome else { return XCTFail("\(outcome)") }
        let best = try XCTUnwrap(scores.checkpointFile)
        let model = try GCAIALModel(checkpoint: try SafetensorsFile.read(contentsOf: best))
        XCTAssertEqual(model.configuration, settings.model, "the Swift engine loads the torch worker's best checkpoint")
        let metrics = try String(contentsOf: folder.appendingPathComponent("torch-work/trial-7/attempt-2/metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 2, "epoch 1 (Swift) and epoch 2 (torch) in the run's metrics")
    }

    func testATrialStartedInTorchFinishesInSwift() throws {
        var settings = settings
        settings.epochs = 3
        var bundles: [Int: URL] = [:]
        let first = try torchRunner().run(trial: Assignment(trialID: 8, attempt: 1, configJSON: configuration(settings).json()),
                                          resumeFile: nil, report: { report in
                                              guard let file = report.resumeCheckpoint?.file else { return }
                                              let kept = self.folder.appendingPathComponent("torch-epoch-\(report.epoch).safetensors")
                                              try? FileManager.default.copyItem(at: file, to: kept)
                                              bundles[report.epoch] = kept
                                          }, cancelled: { !bundles.isEmpty }, aborted: { false })
        guard case let .failed(reason, retryable) = first else { return XCTFail("the torch attempt was meant to stop: \(first)") }
        XCTAssertTrue(reason.hasPrefix("interrupted after"), reason)
        XCTAssertTrue(retryable)
        let last = try XCTUnwrap(bundles.keys.max(), "no resume bundle from the torch attempt")
        let runner = TrainingTrialRunner(workDirectory: folder.appendingPathComponent("swift-work"), dataRoot: nil, logger: logger)
        var epochs: [Int] = []
        let outcome = try runner.run(trial: Assignment(trialID: 8, attempt: 2, configJSON: configuration(settings).json()),
                                     resumeFile: bundles[last], report: { epochs.append($0.epoch) }, cancelled: { false },
                                     aborted: { false })
        XCTAssertEqual(epochs, Array((last + 1)...3), "the Swift attempt trains only the epochs after the torch attempt's")
        guard case .completed = outcome else { return XCTFail("\(outcome)") }
    }
}

private extension Thread {
    /// Reads `handle` to its end on a thread of its own (so a full stderr pipe cannot block the child).
    static func detachedData(_ handle: FileHandle) -> DataFuture {
        let future = DataFuture()
        Thread.detachNewThread { future.set(handle.readDataToEndOfFile()) }
        return future
    }
}

private final class DataFuture: @unchecked Sendable {
    private var data = Data()
    private let ready = DispatchSemaphore(value: 0)

    func set(_ data: Data) {
        self.data = data
        ready.signal()
    }

    func wait() -> Data {
        ready.wait()
        return data
    }
}
