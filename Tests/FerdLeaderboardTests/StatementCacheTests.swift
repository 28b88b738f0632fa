import Foundation
import XCTest
@testable import FerdLeaderboard

final class StatementCacheTests: TemporaryDatabaseTestCase {
    private func metric(_ trialID: Int, epoch: Int, uar: Double = 0.4) -> EpochMetricRecord {
        EpochMetricRecord(trialID: trialID, attempt: 1, epoch: epoch, trainLoss: 1.0 / Double(epoch + 1), uar: uar,
                          war: 0.5, learningRate: 1e-4, seconds: 90,
                          confusion: epoch.isMultiple(of: 2) ? [[epoch, 1], [2, 3]] : nil)
    }

    func testHotPathsPrepareEachStatementOnceAndStoreTheSameRows() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let database = leaderboard.database
        try leaderboard.upsertWorker(WorkerRecord(id: "w1", host: "h", cores: 2, backend: "cpu", slots: 1,
                                                  lastHeartbeat: now))
        func burst(_ epoch: Int) throws {
            try leaderboard.batch {
                try leaderboard.recordHeartbeat(workerID: "w1", at: now.addingTimeInterval(Double(epoch)))
                try leaderboard.applyStateChanges([TrialStateChange(trialID: trials[0], state: .running,
                                                                    attempts: 1, worker: "w1")], at: now)
                for trial in trials { try leaderboard.recordEpochMetric(metric(trial, epoch: epoch)) }
                try leaderboard.logEvent(kind: "epoch", text: "\(epoch)", at: now)
            }
        }
        try burst(0)
        let preparedAfterFirst = database.statementsPrepared
        let cached = database.cachedStatementCount
        for epoch in 1..<50 { try burst(epoch) }
        XCTAssertEqual(database.statementsPrepared, preparedAfterFirst, "every burst after the first reuses")
        XCTAssertEqual(database.cachedStatementCount, cached)
        XCTAssertTrue(try leaderboard.recordResult(sampleResult(trialID: trials[1]), at: now))
        let preparedWithResult = database.statementsPrepared
        XCTAssertTrue(try leaderboard.recordResult(sampleResult(trialID: trials[2]), at: now))
        XCTAssertFalse(try leaderboard.recordResult(sampleResult(trialID: trials[2], uar: 0.9), at: now))
        XCTAssertEqual(database.statementsPrepared, preparedWithResult)

        // Reusing statements changes nothing that is stored: every value comes back as written.
        let expected = trials.flatMap { trial in (0..<50).map { metric(trial, epoch: $0) } }
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id), expected)
        XCTAssertEqual(try leaderboard.results(experimentID: experiment.id),
                       [sampleResult(trialID: trials[1]), sampleResult(trialID: trials[2])])
        XCTAssertEqual(try leaderboard.workers().map(\.lastHeartbeat), [now.addingTimeInterval(49)])
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id).map(\.state),
                       [.running, .done, .done, .queued])
        XCTAssertEqual(try leaderboard.recentEvents(limit: 2).map(\.text), ["48", "49"])
        // A second connection (no shared cache) reads the same rows.
        XCTAssertEqual(try open().epochMetrics(experimentID: experiment.id), expected)
    }

    func testAFailedCachedStatementIsUsableAgainAndSavepointsRollBackAroundIt() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        try leaderboard.batch {
            XCTAssertTrue(try leaderboard.recordEpochMetric(metric(trials[0], epoch: 1)))
            // An unknown trial breaks the foreign key: the cached INSERT fails half-way through the batch.
            XCTAssertThrowsError(try leaderboard.recordEpochMetric(metric(999, epoch: 1)))
            // A failing state change rolls back its own savepoint only, the same cached UPDATE included.
            XCTAssertThrowsError(try leaderboard.applyStateChanges([
                TrialStateChange(trialID: trials[1], state: .running, attempts: 1, worker: "w"),
                TrialStateChange(trialID: 999, state: .running, attempts: 1, worker: "w"),
            ], at: now))
            XCTAssertTrue(try leaderboard.recordEpochMetric(metric(trials[0], epoch: 2, uar: 0.7)))
            try leaderboard.applyStateChanges([TrialStateChange(trialID: trials[3], state: .running, attempts: 1)],
                                              at: now)
        }
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id),
                       [metric(trials[0], epoch: 1), metric(trials[0], epoch: 2, uar: 0.7)])
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id).map(\.state),
                       [.queued, .queued, .queued, .running])

        // A whole batch that throws leaves nothing behind, and the cached statements still work after it.
        struct Abort: Error {}
        XCTAssertThrowsError(try leaderboard.batch {
            try leaderboard.recordEpochMetric(metric(trials[1], epoch: 1))
            throw Abort()
        })
        XCTAssertTrue(try leaderboard.recordEpochMetric(metric(trials[1], epoch: 1)))
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id).count, 3)
    }

    func testClosingFinalizesCachedStatements() throws {
        do {
            let leaderboard = try open()
            let (_, trials) = try seededExperiment(in: leaderboard)
            try leaderboard.recordEpochMetric(metric(trials[0], epoch: 1))
            XCTAssertGreaterThan(leaderboard.database.cachedStatementCount, 0)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path() + "-wal"))
        }
        // The last connection to close removes the write-ahead log; one kept open by an unfinalized
        // statement would not.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path() + "-wal"))
        XCTAssertEqual(try open().trials(experimentID: 1).count, 4)
    }

    func testTheCacheIsBounded() throws {
        let leaderboard = try open()
        let database = leaderboard.database
        for index in 0..<(Database.statementCacheLimit + 10) {
            XCTAssertEqual(try database.query("SELECT \(index)", cached: true).first?.int(0), index)
        }
        XCTAssertEqual(database.cachedStatementCount, Database.statementCacheLimit)
        let prepared = database.statementsPrepared
        XCTAssertEqual(try database.query("SELECT 0", cached: true).first?.int(0), 0)
        XCTAssertEqual(database.statementsPrepared, prepared)
    }
}
