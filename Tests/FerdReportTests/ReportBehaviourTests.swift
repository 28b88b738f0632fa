import FerdLeaderboard
import FerdReport
import Foundation
import XCTest

/// Experiment lookup, empty cases, incomplete points, the pivot flag and text layout.
final class ReportBehaviourTests: ReportTestCase {
    func testEmptyDatabaseIsReported() throws {
        let leaderboard = try Leaderboard(path: databasePath, logger: ReportFixture.logger)
        XCTAssertThrowsError(try ExperimentLookup.load(leaderboard, selector: nil)) { error in
            XCTAssertEqual(error as? ReportError, .emptyDatabase(path: databasePath))
        }
    }

    func testUnknownExperimentListsTheKnownOnes() throws {
        XCTAssertThrowsError(try ExperimentLookup.load(try fixture(), selector: "nope")) { error in
            XCTAssertEqual(error as? ReportError, .unknownExperiment("nope", available: ["1 dfew-gca-ial-grid", "2 not-started"]))
        }
    }

    func testExperimentIsFoundByIdAndDefaultsToTheNewest() throws {
        let leaderboard = try fixture()
        XCTAssertEqual(try ExperimentLookup.load(leaderboard, selector: "1").experiment.name, "dfew-gca-ial-grid")
        XCTAssertEqual(try ExperimentLookup.load(leaderboard, selector: nil).experiment.name, "not-started")
    }

    func testExperimentWithoutFinishedTrialsGivesEmptyLabelledTables() throws {
        let data = try fixtureData(experiment: "not-started")
        XCTAssertTrue(data.complete.isEmpty)
        XCTAssertNil(data.best)
        let text = ReportFormat.text.render(data, style: TextStyle(width: 100))
        XCTAssertTrue(text.contains("No grid point has all its folds finished yet."))
        XCTAssertTrue(text.contains("UAR %"))
        XCTAssertTrue(text.contains("Selection: each fold scored at its best test epoch"))
    }

    func testIncompletePointsAreKeptApartFromCompleteOnes() throws {
        let data = try fixtureData()
        XCTAssertEqual(data.complete.count, 6)
        XCTAssertTrue(data.complete.allSatisfy(\.isComplete))
        XCTAssertEqual(data.incomplete.map(\.foldsDone), ["2/3", "1/3"])
        XCTAssertEqual(data.best?.parameters.summary(), "attention=gca, lambda=0.1, reduction=16")
        let means = data.complete.compactMap(\.uar?.mean)
        XCTAssertEqual(means, means.sorted(by: >))
    }

    func testLastEpochSelectionDiffersFromBestEpoch() throws {
        let best = try fixtureData()
        let last = try fixtureData(ReportOptions(selection: .lastEpoch))
        XCTAssertTrue(last.points.flatMap(\.folds).allSatisfy { $0.epoch == $0.epochsTrained })
        XCTAssertLessThan(try XCTUnwrap(last.best?.war?.mean), try XCTUnwrap(best.best?.war?.mean))
    }

    func testPivotDefaultsToLambdaByReductionAndAcceptsAliasesAndOtherPairs() throws {
        let data = try fixtureData()
        XCTAssertEqual(data.pivot?.rowParameter, "lambda")
        XCTAssertEqual(data.pivot?.columnParameter, "reduction")
        XCTAssertEqual(data.pivot?.rowValues.map(\.display), ["0", "0.05", "0.1"])
        XCTAssertEqual(data.pivot?.fixed, ["attention": .text("gca")])
        let aliased = try fixtureData(ReportOptions(pivot: ("r", "λ")))
        XCTAssertEqual(aliased.pivot?.rowParameter, "reduction")
        let attention = try fixtureData(ReportOptions(pivot: ("attention", "lambda")))
        XCTAssertEqual(attention.pivot?.rowValues.map(\.display), ["gca", "se", "none"])
        XCTAssertEqual(attention.pivot?.cells.flatMap { $0 }.compactMap { $0 }.count, 5)
        XCTAssertThrowsError(try fixtureData(ReportOptions(pivot: ("dropout", "r")))) { error in
            XCTAssertEqual(error as? ReportError, .unknownParameter("dropout", available: ["attention", "lambda", "reduction"]))
        }
    }

    func testAblationsHoldRowsDifferingInOneParameter() throws {
        let data = try fixtureData()
        XCTAssertEqual(data.ablations.map(\.parameter), ["attention", "lambda", "reduction"])
        let attention = try XCTUnwrap(data.ablations.first)
        XCTAssertEqual(attention.rows.compactMap { $0.parameters.values["attention"]?.display }, ["gca", "se", "none"])
        for group in data.ablations {
            let others = Set(group.rows.map { $0.parameters.values.filter { $0.key != group.parameter } })
            XCTAssertEqual(others.count, 1)
        }
    }

    func testSelectionRuleIsStatedOncePerReportBeforeTheTables() throws {
        let data = try fixtureData()
        for format in [ReportFormat.text, .md, .html] {
            let output = format.render(data, style: TextStyle(width: 100))
            XCTAssertEqual(output.components(separatedBy: "Selection:").count - 1, 1, "\(format)")
            let selection = try XCTUnwrap(output.range(of: "Selection:")), leaderboard = try XCTUnwrap(output.range(of: "Leaderboard"))
            XCTAssertLessThan(selection.lowerBound, leaderboard.lowerBound, "\(format)")
        }
    }

    func testPublishedRowsCiteTheirPapersAndNoInternalFile() throws {
        let data = try fixtureData()
        for format in ReportFormat.allCases {
            let output = format.render(data, style: TextStyle(width: 100))
            XCTAssertFalse(output.contains(".md"), "\(format) names a file the reader does not have")
        }
        let text = ReportFormat.text.render(data, style: TextStyle(width: 1_000))
        XCTAssertTrue(text.contains("Jiang et al., DFEW"))
        for result in data.published {
            XCTAssertTrue(text.contains("\(result.method): \(result.citation)."), result.method)
        }
    }

    func testTextFitsNarrowWidthsAndBoldsOnlyWhenAllowed() throws {
        let data = try fixtureData()
        let narrow = ReportFormat.text.render(data, style: TextStyle(width: 72))
        XCTAssertTrue(narrow.split(separator: "\n").allSatisfy { $0.count <= 72 }, narrow)
        XCTAssertFalse(narrow.contains("\u{1B}["))
        let bold = ReportFormat.text.render(data, style: TextStyle(width: 100, bold: true))
        XCTAssertTrue(bold.contains("\u{1B}[1m54.03 ± 0.53\u{1B}[0m"))
    }

    func testStyleDetectionFallsBackToColumnsThenOneHundred() {
        XCTAssertEqual(TextStyle.detect(descriptor: -1, environment: ["COLUMNS": "132", "TERM": "xterm"]),
                       TextStyle(width: 132, bold: false))
        XCTAssertEqual(TextStyle.detect(descriptor: -1, environment: [:]), TextStyle(width: 100, bold: false))
    }
}
