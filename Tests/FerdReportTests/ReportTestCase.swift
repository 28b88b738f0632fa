import FerdLeaderboard
import FerdReport
import Foundation
import XCTest

/// A test case with a fresh directory holding the fixture database.
class ReportTestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    var databasePath: String { directory.appendingPathComponent("leaderboard.sqlite").path }

    /// The fixture database's leaderboard.
    func fixture() throws -> Leaderboard {
        try ReportFixture.build(at: databasePath)
        return try Leaderboard(path: databasePath, logger: ReportFixture.logger)
    }

    /// The fixture's grid experiment as report data.
    func fixtureData(_ options: ReportOptions = ReportOptions(), experiment: String? = "dfew-gca-ial-grid") throws -> ReportData {
        try ReportBuilder.build(try ExperimentLookup.load(try fixture(), selector: experiment), options: options)
    }
}
