import FerdCluster
import FerdData
import FerdExperiment
import FerdLeaderboard
import FerdReport
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// An SCN trial through the coordinator and a real worker: its relabel counts reach the leaderboard and the report.
final class MethodsEndToEndTests: XCTestCase {
    func testAnSCNTrialsRelabelCountsReachTheLeaderboardAndTheReport() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-methods-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataset = directory.appendingPathComponent("data")
        _ = try SyntheticDataset.write(to: dataset, clips: 20, frames: 8...8, size: 56, seed: 1, classBalance: .balanced)
        let definition = try ExperimentDefinition.parse("""
            name: scn-end-to-end
            data: {path: \(dataset.path)}
            folds: [1]
            grid: {method: scn, preset: small, epochs: 2, batch: 4, scn_relabel_epoch: 1, scn_relabel_margin: 0}
            """)
        let logger = {
            var logger = Logger(label: "test.methods")
            logger.logLevel = .warning
            return logger
        }()
        let database = directory.appendingPathComponent("ferd.db").path
        let options = ExperimentServer.Options(definition: definition, data: DataSource(root: dataset.path), database: database,
                                               endpoint: "tcp://127.0.0.1:*", heartbeat: 0.2)
        let workerStop = StopSignal()
        let workerDone = DispatchSemaphore(value: 0)
        defer {
            workerStop.stop()
            workerDone.wait()
        }
        let work = directory.appendingPathComponent("work")
        let summary = try ExperimentServer(options: options, logger: logger).run(until: StopSignal(), planned: { _ in }, bound: { endpoint in
            let hello = Hello(workerID: "swift-1", ferdVersion: "test", cores: 1, backend: "cpu", slots: 1)
            let session = WorkerSession.Configuration(hello: hello, heartbeatInterval: 0.2, reconnectDelay: 0.2, maxReconnectDelay: 1)
            let configuration = Worker.Configuration(endpoint: endpoint, session: session)
            Thread.detachNewThread {
                let worker = Worker(configuration: configuration,
                                    runner: TrainingTrialRunner(workDirectory: work, dataRoot: nil, logger: logger), logger: logger)
                try? worker.run(until: workerStop)
                workerDone.signal()
            }
        })
        XCTAssertEqual(summary, ExperimentServer.Summary(done: 1, failed: 0, total: 1))

        let leaderboard = try Leaderboard(path: database, logger: logger)
        let records = try ExperimentLookup.load(leaderboard, selector: "scn-end-to-end")
        XCTAssertEqual(records.epochMetrics.map { $0.relabels != nil }, [true, true], "relabelling from epoch 1")
        XCTAssertGreaterThan(records.epochMetrics[0].relabels?.changed ?? 0, 0, "δ2 = 0 relabels what the model gets wrong")
        let data = try ReportBuilder.build(records)
        XCTAssertEqual(data.relabels.map(\.epochs), [2])
        XCTAssertEqual(data.relabels.first?.changed, records.epochMetrics.compactMap(\.relabels).reduce(0) { $0 + $1.changed })
        XCTAssertEqual(data.methods?.rows.map(\.method), ["scn"])
        let text = TextRenderer(style: TextStyle(width: 200)).render(data)
        XCTAssertTrue(text.contains("SCN relabelling") && text.contains("ferd: SCN"), text)
    }
}
