import FerdZeroMQ
import FerdCluster
import FerdLeaderboard
import Foundation
import Logging
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The real `ferd` binary as separate processes on loopback: a coordinator, simulated workers
/// (`ferd worker --simulate-trials`, no training) and the failures they must survive. Every wait is bounded;
/// every process still running at the end is killed.
final class ProcessClusterTests: XCTestCase {
    /// Heartbeat period given to every process (hidden `--heartbeat`): a peer is dead after 5 of them.
    private static let heartbeat = 0.2
    private var directory: URL!
    private var processes: [Process] = []

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ferd.path) else {
            throw XCTSkip("the ferd executable is not built next to the tests (\(Self.ferd.path))")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        processes.removeAll()
        if let directory, ProcessInfo.processInfo.environment["FERD_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    // MARK: - Tests

    func testWorkerKilledMidTrialLosesNothing() throws {
        let setup = try experiment(trials: 8)
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        let victim = try startWorker("victim", endpoint: endpoint, secondsPerEpoch: 0.3)
        let survivor = try startWorker("survivor", endpoint: endpoint, secondsPerEpoch: 0.1)
        try waitUntil("the victim runs a trial", timeout: 10) {
            try self.trials(setup).contains { $0.state == .running && $0.worker == "victim" }
        }
        kill(victim.process.processIdentifier, SIGKILL)
        XCTAssertEqual(try waitForExit(coordinator, timeout: 20), 0, coordinator.output())
        try assertComplete(setup, trials: 8)
        XCTAssertTrue(try trials(setup).contains { $0.attempts >= 2 }, "the killed worker's trial ran again")
        try stopWorkers([survivor])
    }

    func testCoordinatorKilledAndRestartedFinishesTheSameExperiment() throws {
        let setup = try experiment(trials: 8)
        let first = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: first)
        let workers = try ["a", "b"].map { try startWorker($0, endpoint: endpoint, secondsPerEpoch: 0.1) }
        try waitUntil("two trials are done", timeout: 10) {
            try self.trials(setup).filter { $0.state == .done }.count >= 2
        }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let doneBefore = try trials(setup).filter { $0.state == .done }.map(\.id)
        XCTAssertLessThan(doneBefore.count, 8, "killed mid-experiment")

        let second = try startCoordinator(setup, bind: endpoint)
        XCTAssertEqual(try waitForExit(second, timeout: 25), 0, second.output())
        XCTAssertTrue(second.output().contains("resumed"), second.output())
        try assertComplete(setup, trials: 8)
        XCTAssertEqual(try leaderboard(setup).experiments().count, 1, "the restart resumed the same experiment")
        try stopWorkers(workers)
    }

    func testWorkerWithAWrongCurveKeyGetsNoWork() throws {
        let keys = directory.appendingPathComponent("keys")
        let server = keys.appendingPathComponent("coordinator")
        let good = keys.appendingPathComponent("good")
        let bad = keys.appendingPathComponent("bad")
        try runFerd(["keygen", "--name", "coordinator", "--out", server.path])
        try runFerd(["keygen", "--name", "good", "--out", good.path])
        try runFerd(["keygen", "--name", "bad", "--out", bad.path])
        let allowed = server.appendingPathComponent("workers")
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: good.appendingPathComponent("good.pub"),
                                         to: allowed.appendingPathComponent("good.pub"))
        for folder in [good, bad] {
            try FileManager.default.copyItem(at: server.appendingPathComponent("coordinator.pub"),
                                             to: folder.appendingPathComponent("coordinator.pub"))
        }
        let setup = try experiment(trials: 2)
        let coordinator = try startCoordinator(setup, extra: ["--keys", server.path])
        let endpoint = try waitForEndpoint(of: coordinator)
        let intruder = try startWorker("bad", endpoint: endpoint, secondsPerEpoch: 0.01, extra: ["--keys", bad.path])
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(try trials(setup).allSatisfy { $0.state == .queued && $0.attempts == 0 },
                      "a worker whose key is not allowed got work")
        XCTAssertTrue(try leaderboard(setup).workers().isEmpty)
        let member = try startWorker("good", endpoint: endpoint, secondsPerEpoch: 0.01, extra: ["--keys", good.path])
        XCTAssertEqual(try waitForExit(coordinator, timeout: 15), 0, coordinator.output())
        try assertComplete(setup, trials: 2)
        XCTAssertEqual(try leaderboard(setup).workers().map(\.id), ["good"])
        try stopWorkers([intruder, member])
    }

    func testRandomBytesDoNotDisturbTheRun() throws {
        let setup = try experiment(trials: 6)
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        let port = try XCTUnwrap(endpoint.split(separator: ":").last.flatMap { UInt16($0) })
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            sendRaw((0..<Int.random(in: 1...2_048, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) },
                    port: port)
        }
        // A ZeroMQ peer that speaks the transport but sends garbage frames.
        let context = try ZMQContext()
        let garbage = try ZMQSocket(context, type: .dealer)
        try garbage.setLinger(milliseconds: 0)
        try garbage.connect(endpoint)
        let worker = try startWorker("w", endpoint: endpoint, secondsPerEpoch: 0.05)
        for index in 0..<200 {
            var frame = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if index % 2 == 0 { frame = Array("FERD".utf8) + frame } // past the magic, into the header checks
            try? garbage.send([frame])
        }
        for _ in 0..<20 {
            sendRaw(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), port: port)
        }
        XCTAssertEqual(try waitForExit(coordinator, timeout: 15), 0, coordinator.output())
        garbage.close()
        try assertComplete(setup, trials: 6)
        XCTAssertTrue(coordinator.output().contains("undecodable"), "the garbage reached the coordinator")
        try stopWorkers([worker])
    }

    /// The project's chaos test: a real sweep (training on synthetic data) while a foreign client written from the
    /// ZMTP specification (Tests/Chaos/abuser.py, no ferd or libzmq code) abuses the coordinator's port for the whole
    /// run, the coordinator is SIGKILLed and restarted, and a worker is SIGKILLed and replaced. Every trial must end
    /// DONE with one result, each attempt's epochs stored once and in order, the database intact, the bad traffic
    /// counted, and the coordinator's log small.
    func testASweepSurvivesAbuseAndKilledProcessesAndKeepsItsLogSmall() throws {
        let abuserScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Chaos/abuser.py")
        let setup = try trainingExperiment(trials: 4, epochs: 3)
        let first = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: first)
        let abuser = try launch(["python3", abuserScript.path, "--endpoint", endpoint, "--seconds", "600", "--seed", "7"],
                                name: "abuser", executable: URL(fileURLWithPath: "/usr/bin/env"))
        var workers = try ["a", "b"].map { try startTrainingWorker($0, endpoint: endpoint) }
        try waitUntil("a trial is done", timeout: 120) { try self.trials(setup).contains { $0.state == .done } }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let second = try startCoordinator(setup, bind: endpoint)
        try waitUntil("a trial runs on worker a after the restart", timeout: 60) {
            try self.trials(setup).contains { $0.state == .running && $0.worker == "a" }
                && self.metrics(setup).contains { $0.epoch >= 1 }
        }
        let victim = workers.removeFirst()
        kill(victim.process.processIdentifier, SIGKILL)
        workers.append(try startTrainingWorker("c", endpoint: endpoint))
        XCTAssertEqual(try waitForExit(second, timeout: 240), 0, second.output())
        kill(abuser.process.processIdentifier, SIGTERM)
        _ = try waitForExit(abuser, timeout: 5)

        let leaderboard = try leaderboard(setup)
        let experiment = try XCTUnwrap(leaderboard.experiments().first)
        let trials = try leaderboard.trials(experimentID: experiment.id)
        XCTAssertEqual(trials.count, 4)
        XCTAssertTrue(trials.allSatisfy { $0.state == .done }, "\(trials.map { "\($0.id): \($0.state)" })")
        let results = try leaderboard.results(experimentID: experiment.id)
        XCTAssertEqual(results.map(\.trialID).sorted(), trials.map(\.id).sorted(), "one result per trial")
        let metrics = try leaderboard.epochMetrics(experimentID: experiment.id)
        for result in results {
            let epochs = metrics.filter { $0.trialID == result.trialID }
            let last = epochs.filter { $0.attempt == result.attempt }.map(\.epoch)
            XCTAssertEqual(last.last, 3, "trial \(result.trialID): its result's attempt reached the last epoch")
            XCTAssertEqual(last, Array((last.first ?? 1)...3), "trial \(result.trialID): each epoch once, in order")
            XCTAssertEqual(Set(epochs.map(\.epoch)), [1, 2, 3], "trial \(result.trialID): no epoch missing")
        }
        XCTAssertEqual(try leaderboard.integrityCheck(), "ok")
        let dropped = try leaderboard.droppedMessages()
        XCTAssertGreaterThan(dropped.reduce(0) { $0 + $1.count }, 100, "the bad traffic was counted: \(dropped)")
        let status = try runFerdCapturingOutput(["status", "--db", setup.database.path])
        XCTAssertTrue(status.contains("Dropped messages"), status)
        let watch = try launch(["status", "--db", setup.database.path, "--watch", "--interval", "0.2"], name: "watch")
        Thread.sleep(forTimeInterval: 1)
        kill(watch.process.processIdentifier, SIGINT)
        XCTAssertEqual(try waitForExit(watch, timeout: 5), 0, watch.output())
        XCTAssertGreaterThanOrEqual(watch.output().components(separatedBy: "\n--- ").count, 3,
                                    "--watch printed the status again and again: \(watch.output())")

        let sent = abuser.output()
        for coordinator in [first, second] {
            let log = coordinator.output()
            let warnings = log.split(separator: "\n").filter { $0.contains("dropped") || $0.contains("ignoring") }
            XCTAssertLessThan(warnings.count, 80, "\(warnings.count) warning lines about bad traffic (the abuser: \(sent))")
            XCTAssertLessThan(log.utf8.count, 150_000, "the coordinator's log grew to \(log.utf8.count) bytes")
        }
        try stopWorkers(workers)
    }

    func testFirstSignalFinishesTheEpochThenLeaves() throws {
        let setup = try experiment(trials: 1)
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        let worker = try startWorker("w", endpoint: endpoint, secondsPerEpoch: 0.6, epochs: 4)
        try waitUntil("epoch 1 is stored", timeout: 10) { try self.metrics(setup).contains { $0.epoch == 1 } }
        let signalled = Date()
        kill(worker.process.processIdentifier, SIGTERM)
        XCTAssertEqual(try waitForExit(worker, timeout: 5), 0, worker.output())
        XCTAssertGreaterThan(Date().timeIntervalSince(signalled), 0.2, "the running epoch was allowed to finish")
        XCTAssertEqual(try metrics(setup).map(\.epoch).sorted(), [1, 2], "epoch 2 finished and was reported, no more")
        XCTAssertTrue(worker.output().contains("interrupted") || worker.output().contains("leaving"), worker.output())
        let trial = try XCTUnwrap(trials(setup).first)
        XCTAssertEqual(trial.state, .queued, "the interrupted trial is queued again")
        XCTAssertEqual(trial.attempts, 1)

        let finisher = try startWorker("finisher", endpoint: endpoint, secondsPerEpoch: 0.01, epochs: 4)
        XCTAssertEqual(try waitForExit(coordinator, timeout: 10), 0, coordinator.output())
        try assertComplete(setup, trials: 1)
        XCTAssertEqual(try trials(setup).first?.attempts, 2)
        try stopWorkers([finisher])
    }

    func testSecondSignalStopsAtOnce() throws {
        let setup = try experiment(trials: 1)
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        let worker = try startWorker("w", endpoint: endpoint, secondsPerEpoch: 3, epochs: 2)
        try waitUntil("the trial runs", timeout: 10) { try self.trials(setup).first?.state == .running }
        let signalled = Date()
        kill(worker.process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.1)
        kill(worker.process.processIdentifier, SIGTERM)
        XCTAssertEqual(try waitForExit(worker, timeout: 5), 0, worker.output())
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 2.5, "did not wait for the epoch")
        XCTAssertTrue(try metrics(setup).isEmpty)
        try waitUntil("the trial is queued again", timeout: 5) {
            try self.trials(setup).first?.state == .queued
        }
        let finisher = try startWorker("finisher", endpoint: endpoint, secondsPerEpoch: 0.01)
        XCTAssertEqual(try waitForExit(coordinator, timeout: 10), 0, coordinator.output())
        try assertComplete(setup, trials: 1)
        try stopWorkers([finisher])
    }

    /// `--gang-timeout` must be a positive number of seconds; the worker says so and starts nothing.
    func testWorkerRejectsAGangTimeoutThatIsNotPositive() throws {
        for value in ["0", "-5", "nan"] {
            let worker = try launch(["worker", "--gang-timeout=\(value)", "--simulate-trials", "0.01"], name: "worker-timeout")
            XCTAssertNotEqual(try waitForExit(worker, timeout: 10), 0)
            XCTAssertTrue(worker.output().contains("--gang-timeout must be a positive number of seconds"), worker.output())
        }
    }

    func testTrainRefusesAnOptionOfAnotherMethod() throws {
        let train = try launch(["train", "--data", "/nonexistent", "--ran-recompute"], name: "train-option")
        XCTAssertNotEqual(try waitForExit(train, timeout: 10), 0)
        XCTAssertTrue(train.output().contains("--ran-recompute applies to --method ran, not gca-ial; remove it or change --method"),
                      train.output())
    }

    /// A data-parallel trial (k = 2, ring, real training on a tiny synthetic dataset) whose rank-0 member is
    /// SIGKILLed after an epoch: the survivor is cancelled, the trial is LOST and re-queued, a new gang
    /// resumes it from the stored epoch checkpoint and finishes it; every epoch and the result are stored
    /// once, and both members of each gang hold identical parameters after every epoch.
    func testAGangMemberKilledMidTrialIsReplacedAndTheTrialFinishesFromItsCheckpoint() throws {
        let setup = try gangExperiment(epochs: 4)
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        var members = try ["a", "b"].map { try startTrainingWorker($0, endpoint: endpoint) }
        try waitUntil("the gang's epoch-1 checkpoint is stored", timeout: 60) {
            try self.trials(setup).first?.resume.map { $0.epoch >= 1 } == true
        }
        let running = try XCTUnwrap(trials(setup).first)
        XCTAssertEqual(running.gangSize, 2)
        let rankZero = try XCTUnwrap(running.worker?.split(separator: ",").first.map(String.init))
        let victim = try XCTUnwrap(members.first { $0.process.arguments?.contains(rankZero) == true })
        kill(victim.process.processIdentifier, SIGKILL)
        members.removeAll { $0 === victim }
        members.append(try startTrainingWorker("c", endpoint: endpoint))

        XCTAssertEqual(try waitForExit(coordinator, timeout: 90), 0, coordinator.output())
        let trial = try XCTUnwrap(trials(setup).first)
        XCTAssertEqual(trial.state, .done)
        XCTAssertEqual(trial.attempts, 2, "the killed gang's attempt was followed by exactly one more")
        XCTAssertNil(trial.resume, "the finished trial keeps no resume checkpoint")
        let leaderboard = try leaderboard(setup)
        let experiment = try XCTUnwrap(leaderboard.experiments().first)
        let results = try leaderboard.results(experimentID: experiment.id)
        XCTAssertEqual(results.map(\.attempt), [2], "one result, from the second gang")
        XCTAssertNotNil(results.first?.checkpointPath)
        let metrics = try metrics(setup)
        let secondGang = metrics.filter { $0.attempt == 2 }.map(\.epoch)
        let firstGang = metrics.filter { $0.attempt == 1 }.map(\.epoch)
        let resumedAt = try XCTUnwrap(secondGang.first, "the second gang reported no epoch")
        XCTAssertEqual(secondGang, Array(resumedAt...4), "the second gang trained each remaining epoch once")
        XCTAssertGreaterThan(resumedAt, 1, "it resumed from the checkpoint instead of starting over")
        XCTAssertLessThanOrEqual(resumedAt, (firstGang.max() ?? 0) + 1, "no epoch was skipped")
        XCTAssertTrue(metrics.allSatisfy { $0.gang?.members == 2 && ($0.gang?.bytesPerStep ?? 0) > 0 }, "\(metrics)")
        XCTAssertTrue(coordinator.output().contains("LOST") || coordinator.output().contains("lost"), coordinator.output())

        for attempt in 1...2 {
            let digests = try ["a", "b", "c"].compactMap { try stateDigests(worker: $0, trial: trial.id, attempt: attempt) }
            XCTAssertEqual(digests.count, 2, "two members ran attempt \(attempt)")
            let epochs = Set(digests[0].keys).intersection(digests[1].keys)
            XCTAssertFalse(epochs.isEmpty, "attempt \(attempt): both members finished epochs")
            for epoch in epochs {
                XCTAssertEqual(digests[0][epoch], digests[1][epoch], "attempt \(attempt) epoch \(epoch): the replicas differ")
            }
        }
        let status = try runFerdCapturingOutput(["status", "--db", setup.database.path])
        XCTAssertTrue(status.contains("Data-parallel trials"), status)
        try stopWorkers(members)
    }

    /// A k = 2 gang that may run with one worker (`min_workers: 1`) loses rank 1 and gets no replacement: after
    /// `gang_wait` the survivor resumes the trial alone from the gang's checkpoint, with half the global batch
    /// and half the learning rate, and the leaderboard records the smaller gang.
    func testAGangThatLosesAMemberMayFinishSmallerWithAScaledLearningRate() throws {
        let setup = try gangExperiment(epochs: 4, extra: "min_workers: 1\ngang_wait: 2s")
        let coordinator = try startCoordinator(setup)
        let endpoint = try waitForEndpoint(of: coordinator)
        let members = try ["a", "b"].map { try startTrainingWorker($0, endpoint: endpoint) }
        try waitUntil("the gang's epoch-1 checkpoint is stored", timeout: 60) {
            try self.trials(setup).first?.resume.map { $0.epoch >= 1 } == true
        }
        let rankOne = try XCTUnwrap(trials(setup).first?.worker?.split(separator: ",").last.map(String.init))
        let victim = try XCTUnwrap(members.first { $0.process.arguments?.contains(rankOne) == true })
        kill(victim.process.processIdentifier, SIGKILL)

        XCTAssertEqual(try waitForExit(coordinator, timeout: 90), 0, coordinator.output())
        let trial = try XCTUnwrap(trials(setup).first)
        XCTAssertEqual(trial.state, .done)
        XCTAssertEqual(trial.attempts, 2)
        XCTAssertEqual(trial.gangSize, 1, "the smaller gang is recorded")
        XCTAssertEqual(trial.learningRateScale ?? 0, 0.5, accuracy: 1e-12)
        let metrics = try metrics(setup)
        let resumed = metrics.filter { $0.attempt == 2 }
        XCTAssertGreaterThan(try XCTUnwrap(resumed.first).epoch, 1, "resumed from the two-member gang's checkpoint")
        XCTAssertEqual(resumed.last?.epoch, 4)
        for epoch in resumed {
            XCTAssertEqual(epoch.gang?.members, 1)
            XCTAssertEqual(epoch.learningRate, 0.005, accuracy: 1e-6, "lr 0.01 × 1/2")
        }
        for epoch in metrics where epoch.attempt == 1 {
            XCTAssertEqual(epoch.learningRate, 0.01, accuracy: 1e-6)
        }
        let events = try leaderboard(setup).recentEvents(limit: 100).map(\.text)
        XCTAssertTrue(events.contains { $0.contains("1 of 2") || $0.contains("smaller") }, "\(events)")
        try stopWorkers(members.filter { $0 !== victim })
    }

    // MARK: - Processes

    static var ferd: URL {
        let candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                          Bundle.main.bundleURL.deletingLastPathComponent(),
                          Bundle(for: ProcessClusterTests.self).bundleURL.deletingLastPathComponent()]
        for folder in candidates {
            let file = folder.appendingPathComponent("ferd")
            if FileManager.default.isExecutableFile(atPath: file.path) { return file }
        }
        return candidates[0].appendingPathComponent("ferd")
    }

    /// A running `ferd` process whose standard output and error go to a file.
    final class Child {
        let process: Process
        let log: URL

        init(process: Process, log: URL) {
            self.process = process
            self.log = log
        }

        func output() -> String {
            (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
    }

    private func launch(_ arguments: [String], name: String, executable: URL = ProcessClusterTests.ferd) throws -> Child {
        let log = directory.appendingPathComponent("\(name)-\(processes.count).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        var environment = ProcessInfo.processInfo.environment
        environment["FERD_LOG_LEVEL"] = "info"
        process.environment = environment
        try process.run()
        processes.append(process)
        return Child(process: process, log: log)
    }

    private func runFerd(_ arguments: [String]) throws {
        _ = try runFerdCapturingOutput(arguments)
    }

    private func runFerdCapturingOutput(_ arguments: [String]) throws -> String {
        let child = try launch(arguments, name: arguments[0])
        XCTAssertEqual(try waitForExit(child, timeout: 10), 0, child.output())
        return child.output()
    }

    /// Waits (bounded) for `child` to exit and returns its status; kills it and fails past the timeout.
    private func waitForExit(_ child: Child, timeout: Double, file: StaticString = #filePath,
                             line: UInt = #line) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while child.process.isRunning {
            guard Date() < deadline else {
                kill(child.process.processIdentifier, SIGKILL)
                child.process.waitUntilExit()
                XCTFail("ferd \(child.process.arguments?.first ?? "") did not exit within \(timeout) s:\n\(child.output())",
                        file: file, line: line)
                return -1
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return child.process.terminationStatus
    }

    private func waitUntil(_ what: String, timeout: Double, file: StaticString = #filePath, line: UInt = #line,
                           _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTFail("timed out after \(timeout) s waiting until \(what)", file: file, line: line)
        throw XCTSkip("cannot go on")
    }

    /// Stops workers as an operator would (SIGTERM) and checks that they leave promptly.
    private func stopWorkers(_ workers: [Child]) throws {
        for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGTERM) }
        for worker in workers {
            let status = try waitForExit(worker, timeout: 5)
            XCTAssertTrue(status == 0 || worker.process.terminationReason == .uncaughtSignal, worker.output())
        }
    }

    // MARK: - Experiment and leaderboard

    struct Setup {
        let config: URL
        let database: URL
    }

    /// An experiment file with `trials` trials (λ values × one fold) and a fresh database path.
    private func experiment(trials: Int) throws -> Setup {
        let lambdas = (0..<trials).map { String(Double($0) / 10) }.joined(separator: ", ")
        let yaml = """
        name: process-test
        data:
          path: nowhere
          layout: reorganised
        folds: [1]
        seeds: 1
        retries: 5
        grid:
          preset: small
          attention: gca
          lambda: [\(lambdas)]
          r: 16
          lr: 0.01
          epochs: 3
          batch: 8
        """
        let config = directory.appendingPathComponent("experiment.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        return Setup(config: config, database: directory.appendingPathComponent("ferd.db"))
    }

    /// A data-parallel experiment (2 workers per trial, ring, float32, plus the `extra` top-level lines)
    /// training the `small` preset for `epochs` epochs on a tiny synthetic dataset (`ferd synth`: 40 clips of
    /// 8 frames, 64 px).
    private func gangExperiment(epochs: Int, extra: String = "") throws -> Setup {
        let data = directory.appendingPathComponent("data")
        try runFerd(["synth", "--out", data.path, "--clips", "40", "--size", "64", "--frames", "8", "--seed", "1"])
        let yaml = """
        name: gang-process-test
        data:
          path: \(data.path)
          layout: reorganised
        folds: [1]
        seeds: 1
        retries: 3
        workers_per_trial: 2
        reduction: ring
        gradient_precision: fp32
        \(extra)
        grid:
          preset: small
          attention: gca
          lambda: 0.1
          r: 16
          lr: 0.01
          epochs: \(epochs)
          batch: 4
        """
        let config = directory.appendingPathComponent("gang.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        return Setup(config: config, database: directory.appendingPathComponent("gang.db"))
    }

    /// An experiment of `trials` trials (λ values × one fold) training the `small` preset for `epochs` epochs on a
    /// tiny synthetic dataset (`ferd synth`: 40 clips of 8 frames, 64 px).
    private func trainingExperiment(trials: Int, epochs: Int) throws -> Setup {
        let data = directory.appendingPathComponent("data")
        try runFerd(["synth", "--out", data.path, "--clips", "40", "--size", "64", "--frames", "8", "--seed", "1"])
        let lambdas = (0..<trials).map { String(Double($0) / 10) }.joined(separator: ", ")
        let yaml = """
        name: chaos-test
        data:
          path: \(data.path)
          layout: reorganised
        folds: [1]
        seeds: 1
        retries: 5
        grid:
          preset: small
          attention: gca
          lambda: [\(lambdas)]
          r: 16
          lr: 0.01
          epochs: \(epochs)
          batch: 4
        """
        let config = directory.appendingPathComponent("training.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        return Setup(config: config, database: directory.appendingPathComponent("training.db"))
    }

    /// A worker that trains for real (one thread, so two of them share the machine's cores).
    private func startTrainingWorker(_ name: String, endpoint: String) throws -> Child {
        try launch(["worker", "--connect", endpoint, "--name", name, "--heartbeat", "\(Self.heartbeat)", "--threads", "1",
                    "--gang-timeout", "30", "--work", directory.appendingPathComponent("work-\(name)").path], name: "worker-\(name)")
    }

    /// The parameter digests a worker's run folder recorded after each epoch of an attempt; nil if it has none.
    private func stateDigests(worker: String, trial: Int, attempt: Int) throws -> [Int: String]? {
        let file = directory.appendingPathComponent("work-\(worker)/trial-\(trial)/attempt-\(attempt)/metrics.jsonl")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        var digests: [Int: String] = [:]
        for line in text.split(separator: "\n") {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let gang = try XCTUnwrap(object["gang"] as? [String: Any], "\(file.path) has no gang entry")
            digests[try XCTUnwrap(object["epoch"] as? Int)] = try XCTUnwrap(gang["state_digest"] as? String)
        }
        return digests
    }

    private func startCoordinator(_ setup: Setup, bind: String = "tcp://127.0.0.1:*", extra: [String] = []) throws -> Child {
        try launch(["coordinator", "--config", setup.config.path, "--db", setup.database.path, "--bind", bind,
                    "--heartbeat", "\(Self.heartbeat)"] + extra, name: "coordinator")
    }

    private func startWorker(_ name: String, endpoint: String, secondsPerEpoch: Double, epochs: Int = 3,
                             extra: [String] = []) throws -> Child {
        try launch(["worker", "--connect", endpoint, "--name", name, "--simulate-trials", "\(secondsPerEpoch)",
                    "--simulate-epochs", "\(epochs)", "--heartbeat", "\(Self.heartbeat)", "--work",
                    directory.appendingPathComponent("work-\(name)").path] + extra, name: "worker-\(name)")
    }

    /// The endpoint the coordinator bound, read from its log.
    private func waitForEndpoint(of coordinator: Child) throws -> String {
        var endpoint: String?
        try waitUntil("the coordinator listens", timeout: 10) {
            guard let line = coordinator.output().split(separator: "\n").first(where: { $0.contains("coordinator listening") }),
                  let range = line.range(of: #"tcp://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else { return false }
            endpoint = String(line[range])
            return true
        }
        return try XCTUnwrap(endpoint)
    }

    private func leaderboard(_ setup: Setup) throws -> Leaderboard {
        try Leaderboard(path: setup.database.path, logger: Logger(label: "check"))
    }

    private func trials(_ setup: Setup) throws -> [TrialRecord] {
        let leaderboard = try leaderboard(setup)
        guard let experiment = try leaderboard.experiments().first else { return [] }
        return try leaderboard.trials(experimentID: experiment.id)
    }

    private func metrics(_ setup: Setup) throws -> [EpochMetricRecord] {
        let leaderboard = try leaderboard(setup)
        guard let experiment = try leaderboard.experiments().first else { return [] }
        return try leaderboard.epochMetrics(experimentID: experiment.id)
    }

    /// Every trial DONE exactly once, with one result each carrying the simulated scores.
    private func assertComplete(_ setup: Setup, trials count: Int, file: StaticString = #filePath,
                                line: UInt = #line) throws {
        let leaderboard = try leaderboard(setup)
        let experiment = try XCTUnwrap(leaderboard.experiments().first, file: file, line: line)
        let trials = try leaderboard.trials(experimentID: experiment.id)
        XCTAssertEqual(trials.count, count, "no trial duplicated", file: file, line: line)
        XCTAssertTrue(trials.allSatisfy { $0.state == .done }, "\(trials.map { "\($0.id): \($0.state)" })",
                      file: file, line: line)
        let results = try leaderboard.results(experimentID: experiment.id)
        XCTAssertEqual(results.map(\.trialID).sorted(), trials.map(\.id).sorted(), "one result per trial",
                       file: file, line: line)
        for result in results {
            XCTAssertEqual(result.uar, SimulatedTrialRunner.uar(trialID: result.trialID), accuracy: 1e-12,
                           file: file, line: line)
        }
    }

    /// Connects a plain TCP socket to the port and writes `bytes`, then closes it.
    private func sendRaw(_ bytes: [UInt8], port: UInt16) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return }
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
