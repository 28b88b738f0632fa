@testable import FerdTraining
import Foundation
import XCTest

final class LabelStoreTests: XCTestCase {
    /// Clip "a" is confidently predicted as class 2 while labelled 0: max p − p[y] ≈ 0.87 > δ2 = 0.2, so it flips to 2.
    /// Clip "b" is labelled 1 and predicted 1 (max p − p[y] = 0): it keeps its label. Clip "c" leans to class 0 but
    /// only by 0.1 < δ2: it keeps its label too.
    func testALabelFlipsOnlyWhereThePredictionBeatsItByMoreThanTheMargin() {
        let logits: [Float] = [0, 0, 3, 0, 3, 0, 0.2, 0, -5]
        let changes = LabelStore.relabel(clipIDs: ["a", "b", "c"], targets: [0, 1, 1], logits: logits, classes: 3, margin: 0.2)
        XCTAssertEqual(changes, [LabelStore.Change(clipID: "a", from: 0, to: 2)])

        var store = LabelStore()
        store.apply(changes)
        XCTAssertEqual(store.labels(for: ["a", "b", "c"], dataset: [0, 1, 1]), [2, 1, 1])
        // A second change of the same clip keeps its dataset label as the original.
        store.apply([LabelStore.Change(clipID: "a", from: 2, to: 1)])
        XCTAssertEqual(store.entries["a"], LabelStore.Entry(original: 0, current: 1))
        let report = store.report(changes: changes, classes: 3)
        XCTAssertEqual(report.changed, 1)
        XCTAssertEqual(report.changes, [[0, 0, 1], [0, 0, 0], [0, 0, 0]])
        XCTAssertEqual(report.relabelledByClass, [1, 0, 0])
    }

    func testTheReportIsOptionalInMetricsLines() throws {
        let old = #"{"epoch":1,"train_loss":1,"lr":0.1,"seconds":1,"uar":0.5,"war":0.5,"recall":[0.5],"confusion":[[1]]}"#
        let report = try JSONDecoder().decode(EpochReport.self, from: Data(old.utf8))
        XCTAssertNil(report.relabels)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(report), as: UTF8.self).contains("relabels"))
        var relabelled = report
        relabelled.relabels = RelabelReport(changed: 2, changes: [[0, 2], [0, 0]], relabelledByClass: [2, 0])
        let line = String(decoding: try JSONEncoder().encode(relabelled), as: UTF8.self)
        XCTAssertTrue(line.contains(#""from_to""#) && line.contains(#""relabelled_by_class""#), line)
        XCTAssertEqual(try JSONDecoder().decode(EpochReport.self, from: Data(line.utf8)), relabelled)
    }
}
