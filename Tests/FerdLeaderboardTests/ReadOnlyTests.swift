import CSQLite
import Foundation
import XCTest
@testable import FerdLeaderboard

/// A leaderboard opened read-only (`ferd dashboard`): reads what the writer commits, never writes, never creates
/// or migrates a file.
final class ReadOnlyTests: TemporaryDatabaseTestCase {
    private func openReadOnly() throws -> Leaderboard {
        try Leaderboard(path: path(), access: .readOnly, logger: logger)
    }

    func testReadsWhatTheWriterCommits() throws {
        let writer = try open()
        let (experiment, trials) = try seededExperiment(in: writer)
        let reader = try openReadOnly()
        XCTAssertTrue(reader.isReadOnly)
        XCTAssertFalse(writer.isReadOnly)
        XCTAssertEqual(try reader.trials(experimentID: experiment.id).map(\.id), trials)
        try writer.applyStateChanges([TrialStateChange(trialID: trials[0], state: .running, attempts: 1, worker: "w")],
                                     at: now)
        XCTAssertEqual(try reader.trials(experimentID: experiment.id, state: .running).map(\.id), [trials[0]])
    }

    func testEveryWriteIsRefused() throws {
        let (experiment, trials) = try seededExperiment(in: try open())
        let reader = try openReadOnly()
        XCTAssertThrowsError(try reader.upsertWorker(WorkerRecord(id: "w", host: "h", cores: 1, backend: "cpu", slots: 1,
                                                                  lastHeartbeat: now))) { error in
            XCTAssertEqual((error as? SQLiteError).map { $0.code & 0xFF }, SQLITE_READONLY, "\(error)")
        }
        XCTAssertThrowsError(try reader.applyStateChanges([TrialStateChange(trialID: trials[0], state: .done, attempts: 1)],
                                                          at: now))
        XCTAssertThrowsError(try reader.database.execute("PRAGMA user_version = 0"))
        XCTAssertEqual(try reader.trials(experimentID: experiment.id, state: .done), [])
        XCTAssertEqual(try reader.schemaVersion(), Schema.migrations.count)
    }

    func testAMissingFileIsNotCreated() {
        XCTAssertThrowsError(try openReadOnly()) { error in
            XCTAssertTrue("\(error)".contains(path()), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path()))
    }

    func testAnOlderSchemaIsNotMigrated() throws {
        try open().database.execute("PRAGMA user_version = 1")
        XCTAssertThrowsError(try openReadOnly()) { error in
            XCTAssertEqual(error as? LeaderboardError,
                           .schemaTooOld(found: 1, expected: Schema.migrations.count, path: path()))
            XCTAssertTrue("\(error)".contains("ferd status --db"), "\(error)")
        }
    }

    func testTheDataVersionChangesWhenTheWriterCommits() throws {
        let writer = try open()
        let (experiment, trials) = try seededExperiment(in: writer)
        let reader = try openReadOnly()
        let before = try reader.dataVersion()
        XCTAssertEqual(try reader.dataVersion(), before, "nothing committed")
        try writer.recordEpochMetric(EpochMetricRecord(trialID: trials[0], attempt: 1, epoch: 1, trainLoss: 1, uar: 0.2,
                                                       war: 0.3, learningRate: 0.1, seconds: 1))
        XCTAssertNotEqual(try reader.dataVersion(), before)
        let snapshot = try reader.snapshot { try reader.epochMetrics(experimentID: experiment.id).count }
        XCTAssertEqual(snapshot, 1)
    }
}
