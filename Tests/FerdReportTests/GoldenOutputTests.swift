import FerdReport
import XCTest

/// Every format rendered from the fixture database matches its golden file.
final class GoldenOutputTests: ReportTestCase {
    func testEveryFormatMatchesItsGoldenFile() throws {
        let data = try fixtureData()
        try GoldenFile.assertMatches(ReportFormat.text.render(data, style: TextStyle(width: 100, bold: false)), "report.txt")
        try GoldenFile.assertMatches(ReportFormat.md.render(data), "report.md")
        try GoldenFile.assertMatches(ReportFormat.csv.render(data), "report.csv")
        try GoldenFile.assertMatches(ReportFormat.json.render(data), "report.json")
        try GoldenFile.assertMatches(ReportFormat.html.render(data), "report.html")
    }

    func testLastEpochSelectionSortedByWARMatchesItsGoldenFile() throws {
        let data = try fixtureData(ReportOptions(selection: .lastEpoch, sortMetric: .war, pivot: ("attention", "λ")))
        try GoldenFile.assertMatches(ReportFormat.text.render(data, style: TextStyle(width: 100, bold: false)),
                                     "report-last-epoch.txt")
    }

    func testExperimentWithoutFinishedTrialsMatchesItsGoldenFile() throws {
        let data = try fixtureData(experiment: "not-started")
        try GoldenFile.assertMatches(ReportFormat.text.render(data, style: TextStyle(width: 100, bold: false)),
                                     "report-not-started.txt")
    }
}
