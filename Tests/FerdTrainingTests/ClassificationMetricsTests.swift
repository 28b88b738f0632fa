import FerdTraining
import XCTest

/// UAR and WAR on hand-made confusion matrices, checked against values worked out by hand
/// (and equal to scikit-learn's `recall_score(average="macro")` / `accuracy_score`).
final class ClassificationMetricsTests: XCTestCase {
    func testBalancedExample() {
        var matrix = ConfusionMatrix(classes: 3)
        // truth 0: 3 right, 1 wrong; truth 1: 1 right, 1 wrong; truth 2: 2 right.
        for (t, p) in [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 2)] { matrix.add(truth: t, prediction: p) }
        XCTAssertEqual(matrix.weightedAverageRecall, 6.0 / 8.0, accuracy: 1e-12)
        XCTAssertEqual(matrix.unweightedAverageRecall, (0.75 + 0.5 + 1.0) / 3, accuracy: 1e-12)
        XCTAssertEqual(matrix.recall.compactMap { $0 }, [0.75, 0.5, 1.0])
    }

    func testClassWithNoTestSamplesIsLeftOutUnlessPredicted() {
        var matrix = ConfusionMatrix(classes: 7)
        for (t, p) in [(0, 0), (0, 1), (1, 1), (2, 2)] { matrix.add(truth: t, prediction: p) }
        // Classes 3…6 occur nowhere: left out. sklearn gives (0.5 + 1 + 1) / 3.
        XCTAssertEqual(matrix.unweightedAverageRecall, 2.5 / 3, accuracy: 1e-12)
        XCTAssertNil(matrix.recall[5])
        // Class 5 predicted once but absent from the truth: it joins with recall 0 (sklearn: 2.0 / 4).
        matrix.add(truth: 2, prediction: 5)
        XCTAssertEqual(matrix.unweightedAverageRecall, (0.5 + 1 + 0.5 + 0) / 4, accuracy: 1e-12)
    }

    func testDisgustWithZeroRecallCountsInTheMean() {
        // The DFEW case: Disgust (5) has test samples but none is recognised.
        var matrix = ConfusionMatrix(classes: 7)
        for c in 0..<7 where c != 5 { matrix.add(truth: c, prediction: c) }
        matrix.add(truth: 5, prediction: 2)
        matrix.add(truth: 5, prediction: 0)
        XCTAssertEqual(matrix.recall[5], 0)
        XCTAssertEqual(matrix.unweightedAverageRecall, 6.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(matrix.weightedAverageRecall, 6.0 / 8.0, accuracy: 1e-12)
    }

    func testEmptyMatrixAndShapeCheck() {
        XCTAssertEqual(ConfusionMatrix().unweightedAverageRecall, 0)
        XCTAssertNil(ConfusionMatrix(counts: [[1, 2], [3]]))
    }

    func testMeanAndSampleStandardDeviation() {
        let (mean, std) = meanAndStandardDeviation([66.21, 64.08, 66.15, 65.03, 67.04])
        XCTAssertEqual(mean, 65.702, accuracy: 1e-9)   // Former-DFER's per-fold WARs → the published 65.70
        XCTAssertEqual(std, 1.1545, accuracy: 1e-4)
        XCTAssertEqual(meanAndStandardDeviation([0.5]).standardDeviation, 0)
    }
}
