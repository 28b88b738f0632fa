import FerdLeaderboard
import Foundation
import Logging
import XCTest
@testable import FerdCluster

/// Log lines kept in memory, shared by the threads of a test.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.withLock { lines.append(line) }
    }

    func contains(_ text: String) -> Bool {
        lock.withLock { lines.contains { $0.contains(text) } }
    }

    /// The lines that contain `text`, oldest first.
    func lines(containing text: String) -> [String] {
        lock.withLock { lines.filter { $0.contains(text) } }
    }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { _ in RecordingLogHandler(recorder: self) }
        logger.logLevel = .debug
        return logger
    }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
    }
}

/// A value set once by one thread and awaited by another.
final class Rendezvous<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private let ready = DispatchSemaphore(value: 0)
    private var value: Value?

    func set(_ newValue: Value) {
        lock.withLock { value = newValue }
        ready.signal()
    }

    func wait(timeout: Double) -> Value? {
        guard ready.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { value }
    }
}

/// Reports two epochs, then a fixed result; `delay` seconds per epoch.
struct FakeRunner: TrialRunner {
    var delay = 0.01

    static let confusion = (0..<7).map { row in (0..<7).map { column in row == column ? 10 : 1 } }

    /// The confusion matrix reported with `epoch`: distinct per epoch, so the stored one can be told apart.
    static func epochConfusion(_ epoch: Int) -> [[Int]] {
        (0..<7).map { row in (0..<7).map { column in row == column ? 10 * epoch : 1 } }
    }

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        for epoch in 1...2 {
            Thread.sleep(forTimeInterval: delay)
            if cancelled() { return .failed(reason: "cancelled", retryable: true) }
            report(MetricEvent(epoch: epoch, trainLoss: 1.0 / Double(epoch), uar: 0.5, war: 0.6, learningRate: 1e-3,
                               seconds: delay, confusion: Self.epochConfusion(epoch)))
        }
        return .completed(TrialScores(bestEpoch: 2, uar: 0.5, war: 0.6, perClassRecall: Array(repeating: 0.5, count: 7),
                                      confusion: Self.confusion, checkpointSHA256: String(repeating: "ab", count: 32),
                                      checkpointSize: 1_024))
    }
}

/// Signals `started` and blocks until cancelled (at most 10 s), like a long trial on a worker that dies.
struct BlockingRunner: TrialRunner {
    let started: Rendezvous<Int>

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        started.set(trial.trialID)
        let deadline = Date().addingTimeInterval(10)
        while !cancelled(), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        return .failed(reason: "interrupted", retryable: true)
    }
}

/// A leaderboard file with one experiment, a coordinator thread and worker threads, all on loopback.
final class ClusterHarness: @unchecked Sendable {
    static let heartbeat = 0.05
    let directory: URL
    let databasePath: String
    let trialIDs: [Int]
    let logs = LogRecorder()
    private var running: [(stop: StopSignal, done: DispatchSemaphore)] = []
    /// The outcome of the latest coordinator: nil error text when it finished.
    private(set) var coordinatorDone = Rendezvous<String?>()

    init(trials: Int) throws {
        directory = try temporaryDirectory()
        databasePath = directory.appendingPathComponent("leaderboard.sqlite").path
        let leaderboard = try Leaderboard(path: databasePath, logger: Logger(label: "setup"))
        let experiment = try leaderboard.findOrCreateExperiment(name: "test", contentHash: "hash", config: "{}",
                                                                at: Date()).experiment
        trialIDs = try leaderboard.insertTrials(experimentID: experiment.id, plans: (0..<trials).map {
            TrialPlan(paramsJSON: #"{"lr":0.001}"#, fold: $0, seed: 7)
        }, at: Date())
    }

    var schedulerConfiguration: Scheduler.Configuration {
        Scheduler.Configuration(heartbeatInterval: Self.heartbeat, missedHeartbeatsBeforeDead: 5, maxAttempts: 3)
    }

    static func spec(_ id: Int, attemptsSoFar: Int = 0) -> Scheduler.TrialSpec {
        Scheduler.TrialSpec(id: id, configJSON: #"{"trial":\#(id)}"#, attemptsSoFar: attemptsSoFar)
    }

    /// Starts the coordinator and returns its endpoint; it stops once every trial is final.
    func startCoordinator(curve: CurveServerKeys? = nil, artifacts: URL? = nil, file: StaticString = #filePath,
                          line: UInt = #line) throws -> String {
        try launchCoordinator(curve: curve, artifacts: artifacts, file: file, line: line).endpoint
    }

    /// Starts a coordinator on `endpoint` for `specs` (all trials by default); raise (or abandon) the returned
    /// signal to stop it, and wait for `done` to know it has.
    func launchCoordinator(endpoint requested: String = "tcp://127.0.0.1:*", specs: [Scheduler.TrialSpec]? = nil,
                           curve: CurveServerKeys? = nil, artifacts: URL? = nil, file: StaticString = #filePath,
                           line: UInt = #line) throws -> (endpoint: String, stop: StopSignal, done: Rendezvous<String?>) {
        let configuration = Coordinator.Configuration(endpoint: requested, scheduler: schedulerConfiguration,
                                                      curve: curve, tickInterval: Self.heartbeat / 2,
                                                      artifactsDirectory: artifacts)
        let specs = specs ?? trialIDs.map { Self.spec($0) }
        let endpoint = Rendezvous<String>()
        let stop = StopSignal()
        let done = DispatchSemaphore(value: 0)
        running.append((stop, done))
        let coordinatorDone = Rendezvous<String?>()
        self.coordinatorDone = coordinatorDone
        let thread = Thread { [databasePath, logs] in
            defer { done.signal() }
            do {
                let leaderboard = try Leaderboard(path: databasePath, logger: logs.logger("leaderboard"))
                let coordinator = Coordinator(configuration: configuration, leaderboard: leaderboard,
                                              logger: logs.logger("coordinator"))
                try coordinator.run(trials: specs, until: stop, untilFinished: true, bound: endpoint.set)
                coordinatorDone.set(nil)
            } catch {
                endpoint.set("failed: \(error)")
                coordinatorDone.set("\(error)")
            }
        }
        thread.start()
        let bound = try XCTUnwrap(endpoint.wait(timeout: 5), "coordinator did not bind", file: file, line: line)
        XCTAssertTrue(bound.hasPrefix("tcp://"), bound, file: file, line: line)
        return (bound, stop, coordinatorDone)
    }

    /// Starts a worker thread; raise (or abandon) the returned signal to stop it.
    @discardableResult
    func startWorker(_ name: String, endpoint: String, runner: any TrialRunner, slots: Int = 1,
                     curve: CurveClientKeys? = nil, chunkSize: Int = CheckpointTransfer.defaultChunkSize) -> StopSignal {
        let hello = Hello(workerID: name, ferdVersion: "test", cores: 1, backend: "cpu", slots: slots,
                          publicKey: curve?.keyPair.publicKey)
        let session = WorkerSession.Configuration(hello: hello, heartbeatInterval: Self.heartbeat,
                                                  reconnectDelay: Self.heartbeat, maxReconnectDelay: 8 * Self.heartbeat)
        let configuration = Worker.Configuration(endpoint: endpoint, session: session, curve: curve, shutdownGrace: 2,
                                                  chunkSize: chunkSize)
        let stop = StopSignal()
        let done = DispatchSemaphore(value: 0)
        running.append((stop, done))
        let thread = Thread { [logs] in
            defer { done.signal() }
            let worker = Worker(configuration: configuration, runner: runner, logger: logs.logger("worker-\(name)"))
            do {
                try worker.run(until: stop)
            } catch {
                logs.append("worker \(name) failed: \(error)")
            }
        }
        thread.start()
        return stop
    }

    /// Waits for the coordinator to finish every trial; nil error text on success.
    func waitForCoordinator(timeout: Double = 15) -> String?? {
        coordinatorDone.wait(timeout: timeout)
    }

    /// Stops every thread and waits (bounded) for them to end.
    func shutdown() {
        for (stop, _) in running { stop.stop() }
        for (_, done) in running { _ = done.wait(timeout: .now() + 5) }
        running.removeAll()
    }

    func leaderboard() throws -> Leaderboard {
        try Leaderboard(path: databasePath, logger: Logger(label: "check"))
    }
}
