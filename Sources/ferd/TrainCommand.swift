import ArgumentParser
import FerdData
import FerdModels
import FerdRuntime
import FerdTensor
import FerdTraining
import Foundation
import Logging

/// `ferd train`: trains one method (GCA+IAL by default) on one fold in this process.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a method (gca-ial, scn, ran, stt, former-dfer) on one fold: per-epoch loss, UAR, WAR, recall and confusion; best checkpoint; resumable.",
        discussion: "The optimiser options default to the method's training recipe (docs/METHODS.md), except GCA+IAL's learning rate and weight decay, which default to a short run's 0.01 and 1e-4 (the reference code: 1e-3 and 0.1), as --epochs and --batch do.")

    @Option(help: "Dataset folder (any DFEW layout, FERV39k or RAF-DB).") var data: String
    @Option(help: "Packed cache from `ferd prepare` (faster epochs).") var cache: String?
    @Option(help: "Layout override: official, reorganised, lists, ferv39k or rafdb.") var layout: DatasetLayout?
    @Option(help: "Fold 1…5 (FERV39k and RAF-DB: 1, their single split).") var fold: Int = 1
    @Option(help: "Method: gca-ial, scn, ran, stt or former-dfer.") var method: ModelMethod = .gcaIAL
    @Option(help: "Model preset of the method: small or paper.") var preset: PresetName = .small
    @Option(help: "Start from these weights (.safetensors; unmatched keys are reported).") var `init`: String?
    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Clips per batch.") var batch: Int = 8
    @Option(help: "Learning rate (default: the method's recipe; gca-ial: 0.01).") var lr: Float?
    @Option(help: "SGD momentum (default: the method's recipe).") var momentum: Float?
    @Option(name: .customLong("weight-decay"), help: "Weight decay (default: the method's recipe; gca-ial: 1e-4).") var weightDecay: Float?
    @Option(help: "Schedule: step, exponential, multistep or constant (default: the method's recipe).") var schedule: String?
    @Option(name: .customLong("lr-step"), help: "Epochs between the step schedule's decays (default: the recipe's).") var lrStep: Int?
    @Option(help: "Decay factor of the schedule (default: the recipe's).") var gamma: Float?
    @Option(name: .customLong("frames-per-segment"), help: "Consecutive frames per segment (default: the recipe's).")
    var framesPerSegment: Int?
    @Option(help: "GCA+IAL: λ, the weight of the intensity-aware loss.") var lambda: Float?
    @Option(help: "GCA+IAL: reduction ratio r.") var r: Int?
    @Option(help: "GCA+IAL: attention: gca, se or none.") var attention: AttentionKind?
    @Option(name: .customLong("aux-heads"), help: "GCA+IAL: auxiliary heads: true or false.") var auxHeads: Bool?
    @Option(name: .customLong("scn-beta"), help: "SCN: β, the high-importance fraction.") var scnBeta: Float?
    @Option(name: .customLong("scn-rank-margin"), help: "SCN: δ1, the rank margin.") var scnRankMargin: Float?
    @Option(name: .customLong("scn-relabel-margin"), help: "SCN: δ2, the relabel margin.") var scnRelabelMargin: Float?
    @Option(name: .customLong("scn-relabel-epoch"), help: "SCN: the first epoch (1-based) that relabels.") var scnRelabelEpoch: Int?
    @Option(name: .customLong("ran-margin"), help: "RAN: δ, the region-biased margin.") var ranMargin: Float?
    @Option(name: .customLong("ran-crops"), help: "RAN: the crop scheme (fixed).") var ranCrops: RANCropScheme?
    @Flag(name: .customLong("ran-recompute"),
          help: "RAN: keep only each region's features in the forward pass and run the region again in the backward pass (the paper model at batch 32: 4.7 GiB instead of ~30, about 30% more time, the same values).")
    var ranRecompute = false
    @Option(name: .customLong("csce-lambda"), help: "STT: λ, the CSCE compactness weight.") var csceLambda: Float?
    @Option(name: .customLong("stt-attention"), help: "STT: space-time or joint.") var sttAttention: STTAttention?
    @Option(name: .customLong("drop-path"), help: "STT: stochastic depth of the last block.") var dropPath: Float?
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

    /// GCA+IAL's defaults for a short run (docs/SYNTHETIC-DATA.md): the reference 1e-3 and 0.1 learn too slowly in 10 epochs.
    static let shortRunLearningRate: Float = 0.01
    static let shortRunWeightDecay: Float = 1e-4

    func validate() throws {
        guard (1...5).contains(fold) else { throw ValidationError("--fold must be 1…5") }
        let options: [(String, Bool, Set<ModelMethod>)] = [
            ("--lambda", lambda != nil, [.gcaIAL]), ("-r", r != nil, [.gcaIAL]), ("--attention", attention != nil, [.gcaIAL]),
            ("--aux-heads", auxHeads != nil, [.gcaIAL]), ("--scn-beta", scnBeta != nil, [.scn]),
            ("--scn-rank-margin", scnRankMargin != nil, [.scn]), ("--scn-relabel-margin", scnRelabelMargin != nil, [.scn]),
            ("--scn-relabel-epoch", scnRelabelEpoch != nil, [.scn]), ("--ran-margin", ranMargin != nil, [.ran]),
            ("--ran-crops", ranCrops != nil, [.ran]), ("--ran-recompute", ranRecompute, [.ran]), ("--csce-lambda", csceLambda != nil, [.stt]),
            ("--stt-attention", sttAttention != nil, [.stt]), ("--drop-path", dropPath != nil, [.stt]),
        ]
        for (name, given, methods) in options where given && !methods.contains(method) {
            throw ValidationError("\(name) applies to --method \(methods.map(\.rawValue).sorted().joined(separator: ", ")), not \(method.rawValue); remove it or change --method")
        }
        if `init` != nil && resume { throw ValidationError("--init starts a fresh run; a resumed run continues from its own checkpoint, so drop one of them") }
    }

    func settings() throws -> TrainingSettings {
        guard var model = ModelConfiguration.preset(named: preset.rawValue, method: method) else {
            throw ValidationError("--preset \(preset.rawValue) has no \(method.rawValue) model; use small or paper")
        }
        var loss = LossWeights.reference
        var methodLoss = MethodLossSettings.defaults
        if let attention { model.attention = attention }
        if let r { model.reduction = r }
        if let auxHeads { model.auxiliaryHeads = auxHeads }
        if let lambda { loss.intensityAware = lambda }
        if let scnBeta { methodLoss.scn.rankFraction = scnBeta }
        if let scnRankMargin { methodLoss.scn.rankMargin = scnRankMargin }
        if let scnRelabelMargin { methodLoss.scn.relabelMargin = scnRelabelMargin }
        if let scnRelabelEpoch { methodLoss.scn.relabelEpoch = scnRelabelEpoch }
        if let ranMargin { methodLoss.ran.margin = ranMargin }
        if let ranCrops { model.ranCrops = ranCrops }
        model.ranRecompute = ranRecompute
        if let csceLambda { methodLoss.stt.compactWeight = csceLambda }
        if let sttAttention { model.sttAttention = sttAttention }
        if let dropPath { model.dropPath = dropPath }
        return try MethodRecipe.of(method).settings(
            model: model, epochs: epochs, batchSize: batch, learningRate: lr ?? (method == .gcaIAL ? Self.shortRunLearningRate : nil),
            momentum: momentum, weightDecay: weightDecay ?? (method == .gcaIAL ? Self.shortRunWeightDecay : nil),
            schedule: schedule, every: lrStep, factor: gamma, framesPerSegment: framesPerSegment, loss: loss,
            methodLoss: methodLoss, bestBy: bestBy, seed: seed)
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        if let threads { Threading.setCount(threads) }
        let logger = Logger(label: "ferd.train")
        let settings = try settings()
        let source = DataSource(root: self.data, layout: layout?.rawValue, cache: cache, skipBad: skipBad, referenceQuirks: referenceQuirks)
        let data = try FoldBatches(source: source, fold: fold,
                                   settings: settings, logger: logger)
        let trainer = try Trainer(settings: settings, runDirectory: URL(fileURLWithPath: out), resume: resume,
                                  initialWeights: `init`.map(URL.init(fileURLWithPath:)), logger: logger)
        print("ferd train: \(method.rawValue), fold \(fold), \(data.train.clips.count) training clips, \(data.test.clips.count) test clips, "
              + "\(preset) preset (\(trainer.model.store.parameterCount) parameters), \(settings.epochs) epochs → \(out)")
        if let report = trainer.initialWeightsReport, let path = `init` {
            print("initial weights from \(path):\n\(report.summary())")
        }
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
                if let relabels = report.relabels { print(RelabelLine(report: relabels).text) }
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

/// SCN's relabelling in an epoch: how many labels changed, and the relabelled clips by dataset class.
struct RelabelLine {
    let report: RelabelReport

    var text: String {
        "           relabelled \(report.changed) labels; clips relabelled so far by class: "
            + zip(Emotion.allCases, report.relabelledByClass).map { "\($0) \($1)" }.joined(separator: "  ")
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
