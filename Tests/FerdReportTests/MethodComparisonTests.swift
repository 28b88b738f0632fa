import FerdLeaderboard
@testable import FerdReport
import FerdTraining
import Foundation
import XCTest

/// The method comparison and SCN's relabelling in every format, from a leaderboard with a GCA+IAL and an SCN point.
final class MethodComparisonTests: ReportTestCase {
    /// Two points (gca-ial, scn) × 2 folds, 3 epochs each; the SCN trials relabel in epochs 2 and 3.
    private func methodsData(config: String = "name: m\ndata: {path: /data/DFEW}", options: ReportOptions = ReportOptions())
        throws -> ReportData {
        let leaderboard = try Leaderboard(path: databasePath, logger: ReportFixture.logger)
        let experiment = try leaderboard.findOrCreateExperiment(name: "methods", contentHash: "methods-1", config: config,
                                                                at: ReportFixture.time).experiment
        let points = [#"{"lambda":0.1,"method":"gca-ial"}"#, #"{"method":"scn","scn_beta":0.7}"#]
        let plans = points.flatMap { params in (1...2).map { TrialPlan(paramsJSON: params, fold: $0, seed: UInt64($0)) } }
        let trials = try leaderboard.insertTrials(experimentID: experiment.id, plans: plans, at: ReportFixture.time)
        for (index, trial) in trials.enumerated() {
            let isSCN = index >= 2
            var last = ReportFixture.confusion(point: index, quality: 0, fold: 1, epoch: 1)
            for epoch in 1...3 {
                last = ReportFixture.confusion(point: index, quality: isSCN ? -0.02 : 0.02, fold: index % 2 + 1, epoch: epoch + 2)
                var fromTo = Array(repeating: Array(repeating: 0, count: 7), count: 7)
                fromTo[1][2] = epoch
                let relabels = isSCN && epoch >= 2
                    ? RelabelCounts(changed: epoch, fromTo: fromTo, relabelledByClass: [0, epoch + index, 0, 0, 0, 0, 0]) : nil
                try leaderboard.recordEpochMetric(EpochMetricRecord(
                    trialID: trial, attempt: 1, epoch: epoch, trainLoss: 1, uar: last.unweightedAverageRecall,
                    war: last.weightedAverageRecall, learningRate: 0.01, seconds: 1, confusion: last.counts, relabels: relabels))
            }
            try leaderboard.recordResult(ResultRecord(
                trialID: trial, attempt: 1, bestEpoch: 3, uar: last.unweightedAverageRecall, war: last.weightedAverageRecall,
                perClassRecall: last.recall.map { $0 ?? 0 }, confusion: last.counts, checkpointPath: nil,
                digest: String(repeating: "0", count: 64)), at: ReportFixture.time)
        }
        return try ReportBuilder.build(try XCTUnwrap(leaderboard.report(experimentID: experiment.id)),
                                       options: ReportOptions(selection: .lastEpoch, dataset: options.dataset))
    }

    func testEachMethodsBestPointStandsAboveThePublishedRowsOfItsDataset() throws {
        let data = try methodsData()
        let comparison = try XCTUnwrap(data.methods)
        XCTAssertEqual(comparison.dataset, .dfew)
        XCTAssertEqual(comparison.rows.map(\.method), ["gca-ial", "scn"])
        XCTAssertEqual(data.sweptParameters, ["method"], "a key only one method's points have is not swept")
        XCTAssertEqual(comparison.rows.map { data.label($0.point) }, ["method=gca-ial", "method=scn"])
        XCTAssertEqual(comparison.published.map(\.method), ["Former-DFER", "STT", "NR-DFERNet", "GCA+IAL"])
        let table = try XCTUnwrap(ReportTables.tables(data).first { $0.id == "methods" })
        XCTAssertEqual(table.rows.count, 2 + 4)
        XCTAssertEqual(table.mutedRows, Set(2..<6))
        XCTAssertTrue(table.rows[0][0].text.hasPrefix("ferd: GCA+IAL"), table.rows[0][0].text)
        XCTAssertTrue(table.rows[1][0].text.hasPrefix("ferd: SCN"), table.rows[1][0].text)
        XCTAssertEqual(table.rows[1][1].text, "2/2")
        XCTAssertTrue(table.rows[0][10].text.contains("±"), "UAR as mean ± std over two folds")
        XCTAssertEqual(table.rows[5].map(\.text), ["GCA+IAL, published", "–", "87.95", "67.21", "70.10", "76.06", "62.22", "0.00",
                                                   "26.44", "55.71", "69.24"])
        XCTAssertTrue(table.notes.joined().contains("Li et al., Intensity-Aware Loss"))
        XCTAssertTrue(table.notes.joined().contains("SVFAP"))
    }

    func testTheDatasetComesFromTheFileOrTheOption() throws {
        let ferv = try methodsData(config: "name: m\ndata: {path: /data/FERV39k, layout: ferv39k}")
        XCTAssertEqual(ferv.methods?.dataset, .ferv39k)
        XCTAssertEqual(ferv.methods?.published.first { $0.method == "STT" }.map { [$0.uar, $0.war] }, [0.3776, 0.4811])
        let table = try XCTUnwrap(ReportTables.tables(ferv).first { $0.id == "methods" })
        XCTAssertEqual(table.rows.last?.map(\.text), ["GCA+IAL, published", "–", "–", "–", "–", "–", "–", "–", "–", "35.82", "48.54"])
    }

    func testRAFDBShowsSCNAndRANsAccuracy() throws {
        let raf = try methodsData(options: ReportOptions(dataset: .rafDB))
        XCTAssertEqual(raf.methods?.published.map { [$0.method: $0.war] }, [["SCN": 0.8814], ["RAN (ResNet-18)": 0.8690]])
        XCTAssertEqual(raf.methods?.published.map(\.ferdMethod), ["scn", "ran"])
    }

    func testSCNRelabellingIsSummarisedPerFoldInEveryFormat() throws {
        let data = try methodsData()
        XCTAssertEqual(data.relabels.map(\.fold), [1, 2])
        XCTAssertEqual(data.relabels.map(\.epochs), [2, 2])
        XCTAssertEqual(data.relabels.map(\.changed), [5, 5], "2 + 3 changes over epochs 2 and 3")
        XCTAssertEqual(data.relabels.map { $0.relabelledByClass[1] }, [5, 6], "the last epoch's count (epoch + trial index)")
        let text = TextRenderer(style: TextStyle(width: 200, bold: false)).render(data)
        XCTAssertTrue(text.contains("SCN relabelling"), text)
        XCTAssertTrue(text.contains("Methods on DFEW"), text)
        for rendered in [MarkdownRenderer().render(data), HTMLRenderer().render(data)] {
            XCTAssertTrue(rendered.contains("SCN relabelling") && rendered.contains("Methods on DFEW"))
        }
        let csv = CSVRenderer().render(data)
        let lines = csv.split(separator: "\n")
        XCTAssertTrue(lines[0].contains("relabel_changes"))
        XCTAssertEqual(lines.filter { $0.contains(",relabels,") }.count, 2)
        XCTAssertEqual(lines.filter { $0.contains(",published-method,") }.count, 4)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(JSONRenderer().render(data).utf8)) as? [String: Any])
        let relabels = try XCTUnwrap(json["relabels"] as? [[String: Any]])
        XCTAssertEqual(relabels.map { $0["changed"] as? Int }, [5, 5])
        XCTAssertEqual((json["methods"] as? [String: Any])?["dataset"] as? String, "DFEW")
    }

    func testAGCAOnlyExperimentHasNeither() throws {
        let data = try fixtureData()
        XCTAssertNil(data.methods)
        XCTAssertTrue(data.relabels.isEmpty)
        XCTAssertFalse(CSVRenderer().render(data).contains("relabel_changes"))
    }
}
