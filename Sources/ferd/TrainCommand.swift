import ArgumentParser
import FerdData
import FerdModels
import FerdRuntime
import FerdTensor
import FerdTraining
import Foundation
import Logging

/// `ferd train`: trains the GCA+IAL model on one DFEW fold in this process.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train GCA+IAL on one fold: per-epoch loss, UAR, WAR, recall and confusion; best checkpoint; resumable.")

    @Option(help: "Dataset folder (any DFEW layout, FERV39k or RAF-DB).") var data: String
    @Option(help: "Packed cache from `ferd prepare` (faster epochs).") var cache: String?
    @Option(help: "Layout override: official, reorganised, lists, ferv39k or rafdb.") var layout: DatasetLayout?
    @Option(help: "Fold 1…5 (FERV39k and RAF-DB: 1, their single split).") var fold: Int = 1
    @Option(help: "Model preset: small or paper.") var preset: PresetName = .small
    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Clips per batch.") var batch: Int = 8
    @Option(help: "Learning rate.") var lr: Float = 0.01
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(name: .customLong("weight-decay"), help: "Weight decay (the reference code: 0.1).") var weightDecay: Float = 1e-4
    @Option(help: "λ, the weight of the intensity-aware loss.") var lambda: Float = 0.1
    @Option(help: "GCA reduction ratio r.") var r: Int = 16
    @Option(help: "Attention: gca, se or none.") var attention: AttentionKind = .gca
    @Option(help: "Schedule: step (×0.5 every 7 epochs), exponential (×gamma every epoch) or constant.") var schedule: ScheduleName = .step
    @Option(help: "Decay factor per epoch of the exponential schedule (UNCONFIRMED in the paper).") var gamma: Float = 0.95
    @Option(name: .customLong("best-by"), help: "Metric that picks the best epoch: war or uar.") var bestBy: BestEpochMetric = .war
    @Option(help: "Seed for initialisation, sampling and augmentation.") var seed: UInt64 = 0
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Run folder for metrics.jsonl and checkpoints.") var out: String = "runs/train"
    @Flag(help: "Continue the run in --out from its last finished epoch.") var resume = false
    @Flag(name: .customLong("skip-bad"), help: "Skip bad clips (missing, empty, or with a frame that cannot be decoded), each with a warning, instead of stopping at the first.")
    var skipBad = false
    @Flag(name: .customLong("reference-quirks"),
          help: "Sample as the reference code: drop clips under T frames, test 16-frame clips on frame 0 (docs/DATA.md).")
    var referenceQuirks = false

    func validate() throws {
        guard (1...5).contains(fold) else { throw ValidationError("--fold must be 1…5") }
        if schedule != .exponential && gamma != 0.95 {
            throw ValidationError("--gamma applies to --schedule exponential; add it or leave --gamma out")
        }
    }

    func settings() -> TrainingSettings {
        var model = preset.configuration
        model.attention = attention
        model.reduction = r
        return TrainingSettings(model: model, epochs: epochs, batchSize: batch, learningRate: lr, momentum: momentum,
                                weightDecay: weightDecay, schedule: schedule.schedule(gamma: gamma),
                                loss: LossWeights(intensityAware: lambda, auxiliary: [0.05, 0]), bestBy: bestBy, seed: seed)
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        if let threads { Threading.setCount(threads) }
        let logger = Logger(label: "ferd.train")
        let settings = settings()
        let source = DataSource(root: self.data, layout: layout?.rawValue, cache: cache, skipBad: skipBad, referenceQuirks: referenceQuirks)
        let data = try FoldBatches(source: source, fold: fold,
                                   settings: settings, logger: logger)
        let trainer = try Trainer(settings: settings, runDirectory: URL(fileURLWithPath: out), resume: resume, logger: logger)
        print("ferd train: fold \(fold), \(data.train.clips.count) training clips, \(data.test.clips.count) test clips, "
              + "\(preset) preset (\(trainer.model.store.parameterCount) parameters), \(settings.epochs) epochs → \(out)")
        let stop = SignalTrap()
        let progress = ProgressReporter()
        let summary = try trainer.run(data: data, shouldStop: { stop.isRequested }) { event in
            switch event {
            case let .step(epoch, batch, batches, loss):
                if batch == 1 { progress.restart() }
                progress.update("epoch \(epoch)/\(settings.epochs)", done: batch, total: batches, unit: "batches",
                                status: String(format: "loss %.4f", loss))
            case let .evaluating(epoch, batch, batches):
                progress.update("epoch \(epoch) test", done: batch, total: batches, unit: "batches", status: "")
            case let .epoch(report, isBest):
                progress.finishLine()
                print(EpochLine(report: report, isBest: isBest).text)
            }
        }
        progress.finishLine()
        if let best = summary.best {
            print("best epoch \(best.epoch): UAR \(percent(best.uar)), WAR \(percent(best.war)) → \(out)/best.safetensors")
            print(RecallTable(recall: best.recall).text)
        }
        if !summary.completed {
            print("stopped; continue with the same command and --resume")
            throw ExitCode(130)
        }
    }
}

func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }

/// One line per epoch: loss, lr, UAR, WAR, time.
struct EpochLine {
    let report: EpochReport
    let isBest: Bool

    var text: String {
        String(format: "epoch %3d  loss %.4f  lr %.2e  UAR %6.2f%%  WAR %6.2f%%  %.1fs", report.epoch, report.trainLoss,
               report.learningRate, report.uar * 100, report.war * 100, report.seconds) + (isBest ? "  ★ best" : "")
    }
}

/// Per-class recall in the papers' class order.
struct RecallTable {
    let recall: [Double?]

    var text: String {
        zip(Emotion.allCases, recall).map { emotion, value in
            "\(emotion) " + (value.map { String(format: "%.2f", $0 * 100) } ?? "n/a")
        }.joined(separator: "  ")
    }
}
