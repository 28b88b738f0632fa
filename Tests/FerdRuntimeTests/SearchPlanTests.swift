import FerdExperiment
import FerdLeaderboard
@testable import FerdRuntime
import Foundation
import Logging
import XCTest

/// A sampled search in the leaderboard: a coordinator restarted on the same file resumes the same points.
final class SearchPlanTests: XCTestCase {
    private let yaml = """
    name: sobol-resume
    data: {path: /data/dfew}
    folds: [1, 2]
    search: sobol
    samples: 8
    grid:
      preset: small
      lambda: {loguniform: [0.01, 1]}
      lr: {loguniform: [0.0001, 0.01]}
      r: {choice: [8, 16]}
      epochs: 2
    """

    func testARestartedCoordinatorResumesTheSamePoints() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ferd.db").path
        let data = DataSource(root: "/data")

        let first = try ExperimentLauncher.plan(try ExperimentDefinition.parse(yaml),
                                                leaderboard: try Leaderboard(path: path, logger: Logger(label: "test")),
                                                data: data, forceNew: false)
        XCTAssertTrue(first.created)
        XCTAssertEqual(first.trials.count, 8 * 2)
        XCTAssertEqual("\(first.search)", "sobol search: 8 samples over lambda, lr, r → 8 points")

        // A new process: the file parsed again, the database opened again.
        let leaderboard = try Leaderboard(path: path, logger: Logger(label: "test"))
        let definition = try ExperimentDefinition.parse(yaml)
        let second = try ExperimentLauncher.plan(definition, leaderboard: leaderboard, data: data, forceNew: false)
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.experiment.id, first.experiment.id)
        XCTAssertEqual(second.trials.map(\.id), first.trials.map(\.id))
        XCTAssertEqual(second.trials.map(\.configJSON), first.trials.map(\.configJSON))
        let stored = try leaderboard.gridPoints(experimentID: first.experiment.id).map(\.paramsJSON)
        XCTAssertEqual(stored, definition.gridPoints.map(ExperimentDefinition.canonical), "no new grid points")
        XCTAssertEqual(try leaderboard.trials(experimentID: first.experiment.id).count, 16)
    }
}
