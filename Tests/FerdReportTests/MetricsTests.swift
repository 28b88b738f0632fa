import FerdLeaderboard
import FerdReport
import FerdTraining
import XCTest

/// UAR, WAR, per-class recall, mean and sample std from hand-built confusion matrices.
final class MetricsTests: XCTestCase {
    /// counts[truth][prediction] over 3 classes: recalls 8/10, 3/5, 0/5.
    let threeClasses = [[8, 1, 1], [2, 3, 0], [4, 1, 0]]

    func testFoldScoreComputesUARAndWARFromTheConfusionMatrix() throws {
        let fold = try score(threeClasses)
        XCTAssertEqual(fold.war, 11.0 / 20, accuracy: 1e-12)
        XCTAssertEqual(fold.uar, (0.8 + 0.6 + 0) / 3, accuracy: 1e-12)
        XCTAssertEqual(fold.recall.map { $0 ?? -1 }, [0.8, 0.6, 0])
    }

    func testDisgustWithZeroRecallCountsInUAR() throws {
        var counts = Array(repeating: Array(repeating: 0, count: 7), count: 7)
        for truth in 0..<7 { counts[truth][truth] = 10 }
        counts[5] = [0, 0, 6, 4, 0, 0, 0]
        let fold = try score(counts)
        XCTAssertEqual(fold.recall[5], 0)
        XCTAssertEqual(fold.uar, 6.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(fold.war, 60.0 / 70, accuracy: 1e-12)
    }

    func testAClassAbsentFromTheTestSetIsLeftOutOfUARAndOfItsRecallMean() throws {
        let absent = try score([[5, 0, 0], [1, 4, 0], [0, 0, 0]], fold: 1)
        XCTAssertNil(absent.recall[2])
        XCTAssertEqual(absent.uar, (1 + 0.8) / 2, accuracy: 1e-12)
        let present = try score([[5, 0, 0], [0, 5, 0], [0, 0, 2]], fold: 2)
        let point = GridPointSummary(id: 1, parameters: GridParameters(values: [:]), folds: [absent, present],
                                     plannedFolds: 2)
        XCTAssertEqual(point.recall[2]?.mean, 1)
        XCTAssertEqual(point.recall[2]?.count, 1)
        XCTAssertEqual(point.recall[1]?.count, 2)
        XCTAssertEqual(point.pooledConfusion?.counts, [[10, 0, 0], [1, 9, 0], [0, 0, 2]])
    }

    func testAClassPredictedButAbsentCountsWithRecallZeroAsInScikitLearn() throws {
        let fold = try score([[4, 0, 1], [0, 5, 0], [0, 0, 0]])
        XCTAssertEqual(fold.uar, (0.8 + 1 + 0) / 3, accuracy: 1e-12)
    }

    func testSpreadIsTheMeanAndSampleStandardDeviation() throws {
        let spread = try XCTUnwrap(Spread([0.50, 0.54, 0.58]))
        XCTAssertEqual(spread.mean, 0.54, accuracy: 1e-12)
        XCTAssertEqual(spread.standardDeviation, 0.04, accuracy: 1e-12)
        XCTAssertEqual(spread.count, 3)
        XCTAssertNil(Spread([]))
        XCTAssertEqual(Spread([0.7])?.standardDeviation, 0)
    }

    func testBestEpochAndLastEpochAreRecomputedIgnoringTheStoredNumbers() throws {
        let epochs = [[[3, 2], [2, 3]], [[5, 0], [1, 4]], [[4, 1], [1, 4]]].enumerated().map { index, counts in
            EpochMetricRecord(trialID: 1, attempt: 1, epoch: index + 1, trainLoss: 1, uar: 0.99, war: 0.99,
                              learningRate: 0.001, seconds: 1, confusion: counts)
        } + [EpochMetricRecord(trialID: 1, attempt: 1, epoch: 4, trainLoss: 1, uar: 1, war: 1, learningRate: 0.001,
                               seconds: 1, confusion: nil)]
        XCTAssertEqual(EpochSelector.select(epochs, rule: .bestEpoch, metric: .war)?.epoch, 2)
        XCTAssertEqual(EpochSelector.select(epochs, rule: .lastEpoch, metric: .war)?.epoch, 3)
        XCTAssertNil(EpochSelector.select(Array(epochs.suffix(1)), rule: .bestEpoch, metric: .war))
    }

    private func score(_ counts: [[Int]], fold: Int = 1) throws -> FoldScore {
        FoldScore(trialID: fold, fold: fold, seed: 0, attempt: 1, epoch: 1, epochsTrained: 1,
                  confusion: try XCTUnwrap(ConfusionMatrix(counts: counts)))
    }
}
