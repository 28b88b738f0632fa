import FerdLeaderboard
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// A sweep on one coordinator with a Swift worker and a torch worker (the real `ferd demo` binary, the PyTorch
/// engine on CPU): every trial DONE once, trials trained by both engines, best checkpoints stored.
final class MixedSweepTests: XCTestCase {
    func testASwiftAndATorchWorkerShareTheDemoSweep() throws {
        let ferd = ProcessClusterTests.ferd
        guard FileManager.default.isExecutableFile(atPath: ferd.path) else {
            throw XCTSkip("the ferd executable is not built next to the tests (\(ferd.path))")
        }
        let python = try TorchPython.locate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-mixed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("mixed.yaml")
        try """
            name: mixed
            data:
              path: synthetic
              layout: reorganised
            folds: [1, 2, 3]
            retries: 2
            grid:
              preset: small
              lambda: [0, 0.1]
              lr: 0.01
              weight_decay: 0.0001
              epochs: 2
              batch: 8
            """.write(to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = ferd
        process.arguments = ["demo", "--dir", directory.appendingPathComponent("demo").path, "--config", config.path,
                             "--clips", "120", "--workers", "2", "--engine", "swift,torch", "--python", python.executable]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)

        let leaderboard = try Leaderboard(path: directory.appendingPathComponent("demo/ferd.db").path, logger: Logger(label: "check"))
        let experiment = try XCTUnwrap(leaderboard.experiments().first)
        let trials = try leaderboard.trials(experimentID: experiment.id)
        XCTAssertEqual(trials.count, 6)
        XCTAssertTrue(trials.allSatisfy { $0.state == .done }, "\(trials.map { "\($0.id): \($0.state)" })")
        let results = try leaderboard.results(experimentID: experiment.id)
        XCTAssertEqual(results.count, 6, "one result per trial")
        XCTAssertEqual(Set(results.map(\.trialID)).count, 6)
        let workers = try leaderboard.workers()
        XCTAssertEqual(Set(workers.map { $0.backend.components(separatedBy: " on ")[0] }), ["swift", "torch"],
                       "\(workers.map(\.backend))")
        for (index, engine) in ["swift", "torch"].enumerated() {
            let work = directory.appendingPathComponent("demo/work/worker-\(index + 1)").path
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: work))?.filter { $0.hasPrefix("trial-") } ?? []
            XCTAssertFalse(runs.isEmpty, "the \(engine) worker trained no trial")
        }
        let metrics = try leaderboard.epochMetrics(experimentID: experiment.id)
        XCTAssertEqual(metrics.count, 6 * 2, "every epoch stored once")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("demo/artifacts/mixed-\(experiment.id)").path)
        XCTAssertEqual(checkpoints.filter { $0.hasSuffix(".safetensors") && !$0.contains("resume") }.count, 6, "\(checkpoints)")
    }
}
