import FerdDashboard
import FerdLeaderboard
import FerdReport
import Foundation
import Logging
import XCTest

/// A test case with a fresh leaderboard of a sweep in progress: experiment `dfew <sweep> & co` with two grid points
/// (λ ∈ {0, 0.1}, 6 epochs) × two folds; trial 1 RUNNING on box-a with 2 epochs stored, trial 2 DONE, the others
/// QUEUED; one worker whose engine and devices text needs escaping.
class DashboardTestCase: XCTestCase {
    static let experimentName = "dfew <sweep> & co"
    static let workerBackend = "torch: 2× NVIDIA H200 <cuda:0,1>"
    let logger = Logger(label: "ferd.dashboard.tests") { _ in SwiftLogNoOpLogHandler() }
    let time = Date(timeIntervalSince1970: 1_760_000_000)
    private(set) var directory: URL!
    private(set) var trials: [Int] = []

    var databasePath: String { directory.appendingPathComponent("leaderboard.sqlite").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-dashboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let leaderboard = try writer()
        let experiment = try leaderboard.findOrCreateExperiment(name: Self.experimentName, contentHash: "h", config: "{}",
                                                                at: time).experiment
        let plans = [#"{"epochs":6,"lambda":0}"#, #"{"epochs":6,"lambda":0.1}"#].flatMap { params in
            (1...2).map { TrialPlan(paramsJSON: params, fold: $0, seed: UInt64($0)) }
        }
        trials = try leaderboard.insertTrials(experimentID: experiment.id, plans: plans, at: time)
        try leaderboard.upsertWorker(WorkerRecord(id: "box-a", host: "gpu-1", cores: 32, backend: Self.workerBackend,
                                                  slots: 2, lastHeartbeat: time))
        try leaderboard.applyStateChanges([TrialStateChange(trialID: trials[0], state: .running, attempts: 1, worker: "box-a"),
                                           TrialStateChange(trialID: trials[1], state: .running, attempts: 1, worker: "box-a")],
                                          at: time)
        for epoch in 1...2 { try storeEpoch(epoch, of: trials[0], in: leaderboard) }
        for epoch in 1...6 { try storeEpoch(epoch, of: trials[1], in: leaderboard) }
        try leaderboard.recordResult(ResultRecord(trialID: trials[1], attempt: 1, bestEpoch: 6, uar: 0.5, war: 0.5,
                                                  perClassRecall: Array(repeating: 0.5, count: 7),
                                                  confusion: Self.confusion(correct: 6), checkpointPath: nil,
                                                  digest: String(repeating: "0", count: 64)), at: time)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// A read-write connection, as the coordinator has.
    func writer() throws -> Leaderboard {
        try Leaderboard(path: databasePath, logger: logger)
    }

    /// Stores epoch `epoch` of `trial`: UAR grows 10 points per epoch from 10 %, loss is 2 / epoch.
    func storeEpoch(_ epoch: Int, of trial: Int, in leaderboard: Leaderboard) throws {
        let matrix = Self.confusion(correct: epoch)
        try leaderboard.recordEpochMetric(EpochMetricRecord(trialID: trial, attempt: 1, epoch: epoch,
                                                            trainLoss: 2 / Double(epoch), uar: Double(epoch) / 10,
                                                            war: Double(epoch) / 10, learningRate: 0.01, seconds: 30,
                                                            confusion: matrix))
    }

    /// 7 classes × 10 clips, `correct` of each class right (UAR = WAR = correct / 10).
    static func confusion(correct: Int) -> [[Int]] {
        (0..<7).map { truth in (0..<7).map { $0 == truth ? correct : ($0 == (truth + 1) % 7 ? 10 - correct : 0) } }
    }

    /// The snapshot a server would read now.
    func snapshot(version: String = "v1") throws -> DashboardSnapshot {
        let reader = try Leaderboard(path: databasePath, access: .readOnly, logger: logger)
        return try DashboardSnapshot.read(reader, experiment: nil, options: ReportOptions(), version: version, now: time)
    }
}
