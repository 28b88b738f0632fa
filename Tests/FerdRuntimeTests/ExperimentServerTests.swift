import FerdCluster
import FerdExperiment
import FerdLeaderboard
import FerdReport
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// `ExperimentServer`, the library type behind `ferd coordinator` and `ferd demo`, with an in-process simulated worker.
final class ExperimentServerTests: XCTestCase {
    func testServesAnExperimentToCompletionAndSumsUp() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-server-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let definition = try ExperimentDefinition.parse("""
            name: served
            data: {path: /data}
            folds: [1, 2]
            grid: {preset: small, lambda: [0, 0.1], epochs: 2, batch: 2}
            """)
        let logger = {
            var logger = Logger(label: "test.server")
            logger.logLevel = .warning
            return logger
        }()
        let options = ExperimentServer.Options(definition: definition, data: DataSource(root: "/data"),
                                               database: directory.appendingPathComponent("ferd.db").path,
                                               endpoint: "tcp://127.0.0.1:*", heartbeat: 0.2)
        let workerStop = StopSignal()
        let workerDone = DispatchSemaphore(value: 0)
        defer {
            workerStop.stop()
            workerDone.wait()
        }
        var plannedTrials = 0
        let summary = try ExperimentServer(options: options, logger: logger).run(until: StopSignal(), planned: { plan in
            plannedTrials = plan.trials.count
        }, bound: { endpoint in
            let hello = Hello(workerID: "simulated", ferdVersion: "test", cores: 1, backend: "cpu", slots: 2)
            let session = WorkerSession.Configuration(hello: hello, heartbeatInterval: 0.2, reconnectDelay: 0.2, maxReconnectDelay: 1)
            let configuration = Worker.Configuration(endpoint: endpoint, session: session)
            Thread.detachNewThread {
                let worker = Worker(configuration: configuration, runner: SimulatedTrialRunner(secondsPerEpoch: 0.01, epochs: 2),
                                    logger: logger)
                try? worker.run(until: workerStop)
                workerDone.signal()
            }
        })
        XCTAssertEqual(plannedTrials, 4)
        XCTAssertEqual(summary, ExperimentServer.Summary(done: 4, failed: 0, total: 4))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("artifacts/served-1").path))
    }

    /// Early stopping end to end: the coordinator stores the decision (state STOPPED, epoch, reason) and finishes.
    func testAStoppedGridPointIsStoredAndTheSweepFinishes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-server-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Simulated trials report UAR 0.3 + (trial id mod 7) / 20: trials 7 and 8 (λ = 0.3) are the worst.
        let definition = try ExperimentDefinition.parse("""
            name: stopped
            data: {path: /data}
            folds: [1, 2]
            stopping: {rule: median, min_epochs: 1, grace: 1}
            grid: {preset: small, lambda: [0, 0.1, 0.2, 0.3], epochs: 3, batch: 2}
            """)
        let logger = {
            var logger = Logger(label: "test.server")
            logger.logLevel = .warning
            return logger
        }()
        let database = directory.appendingPathComponent("ferd.db").path
        let options = ExperimentServer.Options(definition: definition, data: DataSource(root: "/data"), database: database,
                                               endpoint: "tcp://127.0.0.1:*", heartbeat: 0.2)
        let workerStop = StopSignal()
        let workerDone = DispatchSemaphore(value: 0)
        defer {
            workerStop.stop()
            workerDone.wait()
        }
        let summary = try ExperimentServer(options: options, logger: logger).run(until: StopSignal(), bound: { endpoint in
            let hello = Hello(workerID: "simulated", ferdVersion: "test", cores: 1, backend: "cpu", slots: 1)
            let session = WorkerSession.Configuration(hello: hello, heartbeatInterval: 0.2, reconnectDelay: 0.2, maxReconnectDelay: 1)
            let configuration = Worker.Configuration(endpoint: endpoint, session: session)
            Thread.detachNewThread {
                let worker = Worker(configuration: configuration, runner: SimulatedTrialRunner(secondsPerEpoch: 0.01, epochs: 3),
                                    logger: logger)
                try? worker.run(until: workerStop)
                workerDone.signal()
            }
        })
        XCTAssertEqual(summary, ExperimentServer.Summary(done: 6, failed: 0, total: 8))
        let leaderboard = try Leaderboard(path: database, logger: logger)
        let stopped = try leaderboard.trials(experimentID: 1).filter { $0.state == .stopped }
        XCTAssertEqual(stopped.map(\.id), [7, 8])
        XCTAssertEqual(stopped.first?.stop?.epoch, 1)
        XCTAssertTrue(stopped.first?.stop?.reason.contains("median rule") == true)
        let report = try ReportBuilder.build(try XCTUnwrap(leaderboard.report(experimentID: 1)))
        XCTAssertEqual(report.stopped.count, 1, "the stopped point is listed apart")
        XCTAssertEqual(report.complete.count, 3)
    }

    func testTheGradientHubDefaultsToTheControlHostAndWildcardsAreAdvertisedByName() {
        XCTAssertEqual(ExperimentServer.gradientEndpoint(beside: "tcp://10.0.0.1:5555"), "tcp://10.0.0.1:*")
        XCTAssertEqual(ExperimentServer.advertised("tcp://127.0.0.1:4000"), "tcp://127.0.0.1:4000")
        XCTAssertEqual(ExperimentServer.advertised("tcp://*:4000"), "tcp://\(ProcessInfo.processInfo.hostName):4000")
    }
}
