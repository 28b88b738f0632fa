import Foundation
import Logging
import XCTest
@testable import FerdLeaderboard

/// A test case with a fresh directory for database files, removed afterwards.
class TemporaryDatabaseTestCase: XCTestCase {
    private(set) var directory: URL!
    let logger = Logger(label: "ferd.leaderboard.tests") { _ in SwiftLogNoOpLogHandler() }
    let now = Date(timeIntervalSince1970: 1_760_000_000)

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-lb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String = "leaderboard.sqlite") -> String {
        directory.appendingPathComponent(name).path
    }

    func open(_ name: String = "leaderboard.sqlite") throws -> Leaderboard {
        try Leaderboard(path: path(name), logger: logger)
    }

    /// An experiment with two grid points × two folds.
    func seededExperiment(in leaderboard: Leaderboard) throws -> (experiment: Experiment, trials: [Int]) {
        let experiment = try leaderboard.findOrCreateExperiment(name: "gca-ial", contentHash: "abc123",
                                                                config: #"{"epochs":100}"#, at: now).experiment
        let plans = [#"{"lr":0.001}"#, #"{"lr":0.0001}"#].flatMap { params in
            (1...2).map { fold in TrialPlan(paramsJSON: params, fold: fold, seed: UInt64(fold) << 60) }
        }
        return (experiment, try leaderboard.insertTrials(experimentID: experiment.id, plans: plans, at: now))
    }

    func sampleResult(trialID: Int, uar: Double = 0.55) -> ResultRecord {
        ResultRecord(trialID: trialID, attempt: 1, bestEpoch: 40, uar: uar, war: 0.66,
                     perClassRecall: [0.9, 0.7, 0.6, 0.5, 0.4, 0.1, 0.3],
                     confusion: (0..<7).map { row in (0..<7).map { $0 == row ? 50 : 1 } },
                     checkpointPath: "runs/\(trialID)/best.safetensors", digest: String(repeating: "ab", count: 32))
    }
}
