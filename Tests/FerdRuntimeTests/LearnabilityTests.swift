import FerdData
import FerdModels
@testable import FerdRuntime
import FerdTensor
import FerdTraining
import Foundation
import Logging
import XCTest

/// The synthetic generator's classes are learnable by the real model: the small preset, trained
/// from scratch on a small balanced synthetic set, gets clearly above chance on a held-out fold.
final class LearnabilityTests: XCTestCase {
    /// Clips in the synthetic set; fold 1 tests a fifth of them, stratified (20 per class here).
    static let clips = 700
    static let epochs = 10

    /// The pass mark for the best epoch's UAR: 30 %, about twice chance (1/7 ≈ 14.3 %).
    ///
    /// Fold 1 holds n = 140 test clips, exactly 20 per class, so UAR = correct / 140. A classifier that
    /// ignores the pixels gets k ~ Binomial(140, 1/7) right (mean 20, sd 4.1). UAR ≥ 30 % needs
    /// k ≥ 42: P(k ≥ 42) = 1.4e-6 per epoch, ≤ 1.4e-5 for the best of 10 epochs (union bound). So a
    /// pass means the model learnt the expressions, not luck. Measured (debug build, seed 1,
    /// 2 threads, results bit-identical for a fixed thread count): best UAR 45.3 % at epoch 10, about
    /// 65–90 s in all; the margin leaves room for small changes to the generator or the engine's rounding.
    static let threshold = 0.30

    func testSmallPresetLearnsSyntheticExpressions() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-learn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test.learnability")
        logger.logLevel = .warning
        Threading.setCount(2)
        let started = Date()

        let data = directory.appendingPathComponent("data")
        _ = try SyntheticDataset.write(to: data, clips: Self.clips, frames: 8...8, size: 56, seed: 1,
                                       classBalance: .balanced, logger: logger)
        let cache = directory.appendingPathComponent("cache")
        _ = try PackedCacheWriter.prepare(dataRoot: data.path, cacheDirectory: cache.path,
                                          options: PrepareOptions(size: 56), logger: logger)
        let prepared = Date()

        // `ferd train --preset small --batch 8 --lr 0.01` (weight decay 1e-4, λ = 0.1, step schedule).
        let settings = TrainingSettings(model: .small, epochs: Self.epochs, batchSize: 8, learningRate: 0.01,
                                        weightDecay: 1e-4, loss: LossWeights(intensityAware: 0.1, auxiliary: [0.05, 0]),
                                        bestBy: .uar, seed: 0)
        let batches = try FoldBatches(source: DataSource(root: data.path, cache: cache.path), fold: 1,
                                      settings: settings, logger: logger)
        XCTAssertEqual(batches.test.clips.count, Self.clips / 5)
        let trainer = try Trainer(settings: settings, runDirectory: directory.appendingPathComponent("run"),
                                  resume: false, logger: logger)
        let summary = try trainer.run(data: batches)
        let best = try XCTUnwrap(summary.best)

        let history = summary.history.map { String(format: "%.1f", $0.uar * 100) }.joined(separator: " ")
        print(String(format: "learnability: data %.1fs, training %.1fs; UAR per epoch %@; best epoch %d UAR %.1f%% WAR %.1f%%",
                     prepared.timeIntervalSince(started), Date().timeIntervalSince(prepared), history, best.epoch,
                     best.uar * 100, best.war * 100))
        XCTAssertTrue(summary.completed)
        XCTAssertGreaterThanOrEqual(best.uar, Self.threshold, "UAR per epoch: \(history)")
    }
}
