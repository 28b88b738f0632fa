import FerdCluster
import FerdExperiment
import FerdModels
import FerdTraining
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// `EngineTrialRunner` against small engines written for each case (the `engine: {command: [...]}` path, no
/// torch needed): results, crashes, hangs, broken lines, out-of-memory reports and cancellation.
final class EngineFaultTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("engine-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A Python program that prints the contract's lines; `body` runs after reading the spec into `spec`.
    private func engine(_ body: String) throws -> [String] {
        let script = folder.appendingPathComponent("engine-\(UUID().uuidString).py")
        let program = """
            import json, sys, time
            spec = json.load(sys.stdin)
            def say(**event):
                print(json.dumps(event), flush=True)
            def confusion(correct):
                return [[3 if (r == c and r < correct) or (r >= correct and c == 0) else 0 for c in range(7)] for r in range(7)]
            say(event="started", contract=1, engine="test", start_epoch=1)

            """ + body
        try program.write(to: script, atomically: true, encoding: .utf8)
        return ["/usr/bin/python3", script.path]
    }

    private func run(_ command: [String], epochs: Int = 2, timeout: Double = 60, cancelAfterEpoch: Int? = nil)
        throws -> (TrialOutcome, [MetricEvent]) {
        var settings = TrainingSettings(model: .small, epochs: epochs, batchSize: 2)
        settings.seed = 5
        let configuration = TrialConfiguration(settings: settings, fold: 1, data: DataSource(root: "/nonexistent"),
                                               parameters: #"{"lambda":0.1}"#,
                                               engine: EngineSettings(choice: .command, command: command, timeoutSeconds: timeout))
        let python = TorchPython(executable: "/usr/bin/python3", torchVersion: "none", cudaAvailable: false, cudaDevices: [])
        let runner = EngineTrialRunner(options: TorchWorkerOptions(python: python, device: .cpu, gpus: []),
                                       workDirectory: folder, dataRoot: nil, logger: Logger(label: "test"))
        var reports: [MetricEvent] = []
        let outcome = try runner.run(trial: Assignment(trialID: 3, attempt: 1, configJSON: configuration.json()),
                                     report: { reports.append($0) },
                                     cancelled: { cancelAfterEpoch.map { reports.count >= $0 } ?? false })
        return (outcome, reports)
    }

    private func failure(_ outcome: TrialOutcome, file: StaticString = #filePath, line: UInt = #line) -> (String, Bool) {
        guard case let .failed(reason, retryable) = outcome else {
            XCTFail("expected a failure, got \(outcome)", file: file, line: line)
            return ("", false)
        }
        return (reason, retryable)
    }

    func testACustomEngineWithoutCheckpointsCompletes() throws {
        let (outcome, reports) = try run(engine("""
            assert spec["contract"] == 1 and spec["trial"]["fold"] == 1 and spec["settings"]["epochs"] == 2
            import os
            assert os.environ["FERD_FOLD"] == "1" and os.environ["FERD_RUN_DIR"] == os.getcwd()
            say(event="progress", epoch=1, phase="train", batch=1, batches=1, loss=1.9)
            say(event="epoch", epoch=1, train_loss=1.9, learning_rate=0.001, seconds=0.1, confusion=confusion(5))
            say(event="epoch", epoch=2, train_loss=1.2, learning_rate=0.001, seconds=0.1, confusion=confusion(3))
            say(event="done", epochs=2)
            """))
        XCTAssertEqual(reports.map(\.epoch), [1, 2])
        XCTAssertEqual(reports[0].uar, 5.0 / 7.0, accuracy: 1e-12)
        XCTAssertNil(reports[0].resumeCheckpoint, "no checkpoint, nothing to upload")
        guard case let .completed(scores) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(scores.bestEpoch, 1)
        XCTAssertEqual(scores.checkpointSize, 0)
        let metrics = try String(contentsOf: folder.appendingPathComponent("trial-3/attempt-1/metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 2)
    }

    /// docs/ENGINES.md's worked example: a script that uses `ferd_torch.contract.EngineSession` joins a sweep.
    func testAResearchersScriptWithEngineSessionJoinsASweep() throws {
        let script = folder.appendingPathComponent("train.py")
        try """
            from ferd_torch.contract import EngineSession

            session = EngineSession.from_stdin()
            settings = session.spec["settings"]
            session.started(start_epoch=1)
            for epoch in range(1, settings["epochs"] + 1):
                loss = 2.0 / epoch * session.learning_rate(epoch) / settings["learningRate"]
                confusion = [[2 if row == column else 0 for column in range(7)] for row in range(7)]
                session.epoch(epoch, train_loss=loss, confusion=confusion)
                if session.stop_requested:
                    session.stopped(epoch)
                    break
            else:
                session.done()
            """.write(to: script, atomically: true, encoding: .utf8)
        let (outcome, reports) = try run(["/usr/bin/python3", script.path])
        XCTAssertEqual(reports.map(\.epoch), [1, 2])
        XCTAssertEqual(reports[1].trainLoss, 1.0, accuracy: 1e-6)
        XCTAssertEqual(reports[0].learningRate, 1e-3, accuracy: 1e-9, "the schedule's rate, as the Swift trainer computes it")
        guard case let .completed(scores) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(scores.uar, 1.0)
        XCTAssertEqual(scores.bestEpoch, 1, "an equal later epoch is not better")
    }

    func testACrashFailsWithTheExitStatusAndTheLogTail() throws {
        let (outcome, _) = try run(engine("""
            sys.stderr.write("loading the model\\nRuntimeError: boom in layer3\\n")
            sys.exit(3)
            """))
        let (reason, retryable) = failure(outcome)
        XCTAssertTrue(reason.contains("exited with status 3 after 0 of 2 epochs"), reason)
        XCTAssertTrue(reason.contains("RuntimeError: boom in layer3"), reason)
        XCTAssertTrue(retryable)
    }

    func testAHungEngineIsKilledAfterTheTimeout() throws {
        let started = Date()
        let (outcome, _) = try run(engine("time.sleep(60)"), timeout: 1.5)
        let (reason, retryable) = failure(outcome)
        XCTAssertTrue(reason.contains("printed nothing for 1 s"), reason)
        XCTAssertTrue(retryable)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the hang is detected, not waited out")
    }

    func testAMalformedLineFailsTheAttemptAndNamesIt() throws {
        let (outcome, _) = try run(engine("""
            print("epoch 1 done, loss 0.3", flush=True)
            time.sleep(30)
            """))
        let (reason, _) = failure(outcome)
        XCTAssertTrue(reason.contains("breaks the engine contract") && reason.contains("\"epoch 1 done, loss 0.3\""), reason)
    }

    func testOutOfMemoryIsReportedWithItsReasonAndNotRetried() throws {
        let (outcome, _) = try run(engine("""
            say(event="failed", kind="out_of_memory", retryable=False,
                reason="CUDA out of memory with batch 40 (fp32); lower batch or use torch.precision bf16")
            sys.exit(1)
            """))
        let (reason, retryable) = failure(outcome)
        XCTAssertTrue(reason.hasPrefix("out_of_memory: CUDA out of memory with batch 40"), reason)
        XCTAssertFalse(retryable)
    }

    func testCancellationStopsTheEngine() throws {
        let marker = folder.appendingPathComponent("engine-still-running")
        let (outcome, reports) = try run(engine("""
            say(event="epoch", epoch=1, train_loss=1.9, learning_rate=0.001, seconds=0.1, confusion=confusion(5))
            for _ in range(300):
                time.sleep(0.1)
            open("\(marker.path)", "w").close()
            """), cancelAfterEpoch: 1)
        XCTAssertEqual(reports.count, 1)
        let (reason, retryable) = failure(outcome)
        XCTAssertEqual(reason, "interrupted after 1 epochs")
        XCTAssertTrue(retryable)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "the engine was stopped, not left running")
    }
}
