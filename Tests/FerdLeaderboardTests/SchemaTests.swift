import CSQLite
import Foundation
import XCTest
@testable import FerdLeaderboard

final class SchemaTests: TemporaryDatabaseTestCase {
    func testMigratesAnEmptyFile() throws {
        let leaderboard = try open()
        XCTAssertEqual(try leaderboard.schemaVersion(), Schema.migrations.count)
        let tables = try leaderboard.database.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .compactMap { $0.text(0) }
        XCTAssertEqual(tables, ["dropped_messages", "epoch_metrics", "events", "experiments", "grid_points", "results", "trials", "workers"])
    }

    func testReopeningKeepsDataAndSchema() throws {
        let experimentID = try seededExperiment(in: try open()).experiment.id
        let reopened = try open()
        XCTAssertEqual(try reopened.schemaVersion(), Schema.migrations.count)
        XCTAssertEqual(try reopened.experiments().map(\.id), [experimentID])
        XCTAssertEqual(try reopened.trials(experimentID: experimentID).count, 4)
    }

    func testALeaderboardOfTheReleasedSchemaIsUpgradedWithItsRows() throws {
        // Version 2 (the schema before dropped messages and early stopping), with a trial, an epoch and a result.
        let database = try Database(path: path(), logger: logger)
        for migration in Schema.migrations.prefix(2) { try database.execute(migration) }
        try database.execute("PRAGMA user_version = 2")
        try database.execute("""
            INSERT INTO experiments (id, name, content_hash, config, created) VALUES (1, 'old', 'h', '', 0);
            INSERT INTO grid_points (id, experiment, params) VALUES (1, 1, '{}');
            INSERT INTO trials (id, experiment, grid_point, fold, seed, state, attempts, updated, resume_epoch, resume_size,
                                resume_sha256, resume_path, gang_size)
                VALUES (1, 1, 1, 1, 7, 'DONE', 1, 0, 3, 10, 'ab', '/r', 2), (2, 1, 1, 2, 8, 'QUEUED', 0, 0, NULL, NULL, NULL, NULL, NULL);
            INSERT INTO epoch_metrics (trial, attempt, epoch, train_loss, uar, war, lr, seconds) VALUES (1, 1, 1, 1, 0.5, 0.5, 0.1, 3);
            """)
        let leaderboard = try open()
        XCTAssertEqual(try leaderboard.schemaVersion(), Schema.migrations.count)
        let trials = try leaderboard.trials(experimentID: 1)
        XCTAssertEqual(trials.map(\.state), [.done, .queued])
        XCTAssertEqual(trials.first?.resume?.epoch, 3)
        XCTAssertEqual(trials.first?.gangSize, 2)
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: 1).count, 1)
        XCTAssertNil(try leaderboard.epochMetrics(experimentID: 1).first?.relabels, "an epoch stored before relabelling has none")
        try leaderboard.applyStateChanges([TrialStateChange(trialID: 2, state: .stopped, attempts: 0,
                                                            stop: TrialStop(epoch: 4, reason: "median"))], at: Date())
        XCTAssertEqual(try leaderboard.trials(experimentID: 1).last?.stop, TrialStop(epoch: 4, reason: "median"))
        XCTAssertTrue(try leaderboard.database.query("PRAGMA foreign_key_check").isEmpty)
        XCTAssertThrowsError(try leaderboard.database.run(
            "INSERT INTO epoch_metrics (trial, attempt, epoch, train_loss, uar, war, lr, seconds) VALUES (99, 1, 1, 1, 1, 1, 1, 1)"),
            "foreign keys are on again")
    }

    func testWriteAheadLogIsOn() throws {
        XCTAssertEqual(try open().journalMode(), "wal")
        XCTAssertEqual(try open().journalMode(), "wal")
    }

    func testAFileThatIsNotADatabaseIsNamedInTheError() throws {
        let file = path("notes.txt")
        try String(repeating: "these are my notes, not a database\n", count: 100).write(toFile: file, atomically: true,
                                                                                        encoding: .utf8)
        XCTAssertThrowsError(try Leaderboard(path: file, logger: logger)) { error in
            guard let error = error as? SQLiteError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, SQLITE_NOTADB)
            XCTAssertEqual(error.path, file)
            XCTAssertNotNil(error.sql)
            XCTAssertTrue(error.description.contains(file), error.description)
            XCTAssertTrue(error.description.contains("not an SQLite database"), error.description)
        }
    }

    func testAnUnopenablePathIsNamedInTheError() {
        let file = path("missing-directory/leaderboard.sqlite")
        XCTAssertThrowsError(try Leaderboard(path: file, logger: logger)) { error in
            XCTAssertTrue("\(error)".contains(file), "\(error)")
        }
    }

    func testASchemaFromANewerFerdIsRefused() throws {
        try open().database.execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try open()) { error in
            XCTAssertEqual(error as? LeaderboardError,
                           .schemaTooNew(found: 99, supported: Schema.migrations.count, path: path()))
            XCTAssertTrue("\(error)".contains("upgrade ferd"))
        }
    }

    func testFailedStatementNamesItsSQLAndFile() throws {
        let leaderboard = try open()
        XCTAssertThrowsError(try leaderboard.database.run("SELECT nothing FROM nowhere")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("SELECT nothing FROM nowhere") && text.contains(path()), text)
        }
    }

    func testBusyWriterFailsAfterTheTimeoutWithoutPartialWork() throws {
        let first = try open()
        let second = try Database(path: path(), busyTimeoutMilliseconds: 50, logger: logger)
        try first.database.execute("BEGIN IMMEDIATE")
        XCTAssertThrowsError(try second.transaction { try second.run("DELETE FROM events") }) { error in
            XCTAssertEqual((error as? SQLiteError).map { $0.code & 0xFF }, SQLITE_BUSY)
            XCTAssertTrue("\(error)".contains("BEGIN IMMEDIATE"), "\(error)")
        }
        try first.database.execute("COMMIT")
    }

    func testTransactionRollsBackWhenTheBodyThrows() throws {
        let leaderboard = try open()
        struct Abort: Error {}
        XCTAssertThrowsError(try leaderboard.database.transaction {
            try leaderboard.logEvent(kind: "test", text: "rolled back", at: now)
            throw Abort()
        })
        XCTAssertEqual(try leaderboard.recentEvents(limit: 10), [])
    }
}
