import FerdCluster
import FerdExperiment
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

    func testTheGradientHubDefaultsToTheControlHostAndWildcardsAreAdvertisedByName() {
        XCTAssertEqual(ExperimentServer.gradientEndpoint(beside: "tcp://10.0.0.1:5555"), "tcp://10.0.0.1:*")
        XCTAssertEqual(ExperimentServer.advertised("tcp://127.0.0.1:4000"), "tcp://127.0.0.1:4000")
        XCTAssertEqual(ExperimentServer.advertised("tcp://*:4000"), "tcp://\(ProcessInfo.processInfo.hostName):4000")
    }
}
