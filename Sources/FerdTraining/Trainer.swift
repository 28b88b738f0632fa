import FerdData
import FerdModels
import FerdTensor
import Foundation
import Logging

/// Where the trainer gets its batches. Training batches must depend only on the epoch (seeded
/// shuffling and augmentation), so that a resumed run sees the same data as an uninterrupted one.
public protocol BatchProvider {
    /// Batches per training epoch.
    var trainBatchCount: Int { get }
    /// Batches of one pass over the test set.
    var testBatchCount: Int { get }
    /// The training batches of `epoch` (0-based).
    func trainBatches(epoch: Int) throws -> AnyIterator<Result<ClipBatch, Error>>
    /// The test set, unaugmented.
    func testBatches() throws -> AnyIterator<Result<ClipBatch, Error>>
}

/// Progress the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    /// A training step finished: `batch` of `batches` in `epoch` (1-based), with its loss.
    case step(epoch: Int, batch: Int, batches: Int, loss: Double)
    /// Evaluation of `epoch` is running: `batch` of `batches`.
    case evaluating(epoch: Int, batch: Int, batches: Int)
    /// An epoch finished; `isBest` when it is the best so far.
    case epoch(EpochReport, isBest: Bool)
}

/// How a run ended.
public struct TrainingSummary: Sendable {
    public var history: [EpochReport]
    /// The best epoch by the configured metric, if any epoch finished.
    public var best: EpochReport?
    /// False when the run stopped early on request; the resume checkpoint then holds the last
    /// finished epoch.
    public var completed: Bool
}

/// Trains one GCA+IAL model on one fold: SGD over the training batches, evaluation on the test set
/// after every epoch, the best epoch's weights and a resume checkpoint in the run folder.
public final class Trainer {
    public let settings: TrainingSettings
    public let model: GCAIALModel
    private var optimizer: SGD
    private let runFolder: RunFolder
    private let logger: Logger
    private(set) var history: [EpochReport] = []

    /// A trainer writing into `runDirectory`. With `resume`, it continues from the resume checkpoint
    /// there (which must have been written with the same settings).
    public init(settings: TrainingSettings, runDirectory: URL, resume: Bool, logger: Logger) throws {
        try settings.validate()
        self.settings = settings
        self.logger = logger
        self.runFolder = try RunFolder(directory: runDirectory)
        model = try GCAIALModel(configuration: settings.model, seed: settings.seed)
        optimizer = SGD(learningRate: settings.learningRate, momentum: settings.momentum, weightDecay: settings.weightDecay)
        if resume {
            let state = try runFolder.loadResumeState(settings: settings)
            try model.store.load(state.model)
            optimizer.velocities = model.store.names.filter { model.store.roles[$0] == .parameter }.map { state.velocities[$0] ?? [] }
            history = state.history
            logger.info("resuming after epoch \(history.count) of \(settings.epochs)")
        } else {
            try runFolder.start(settings: settings)
        }
    }

    /// The epochs already trained (when resuming).
    public var completedEpochs: Int { history.count }

    /// Trains until `settings.epochs` or until `shouldStop` returns true (checked between steps; the
    /// unfinished epoch is then discarded and will be re-run by a resumed run).
    public func run(data: BatchProvider, shouldStop: () -> Bool = { false },
                    observe: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        guard data.trainBatchCount > 0 else {
            throw TrainingError.data("the training split yields no batch of \(settings.batchSize) clips; lower --batch or add clips")
        }
        for epoch in history.count..<settings.epochs {
            let started = DispatchTime.now().uptimeNanoseconds
            optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
            guard let trainLoss = try trainEpoch(epoch, data: data, shouldStop: shouldStop, observe: observe) else {
                logger.notice("stopped during epoch \(epoch + 1); the resume checkpoint holds epoch \(history.count)")
                return summary(completed: false)
            }
            let matrix = try evaluate(epoch: epoch, data: data, observe: observe)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let report = EpochReport(epoch: epoch + 1, trainLoss: trainLoss, learningRate: Double(optimizer.learningRate),
                                     seconds: seconds, matrix: matrix)
            let isBest = history.allSatisfy { report.score(settings.bestBy) > $0.score(settings.bestBy) }
            history.append(report)
            if isBest { try runFolder.saveBest(model.checkpoint(metadata: ["epoch": "\(report.epoch)"])) }
            try runFolder.appendMetrics(report)
            try runFolder.saveResumeState(model: model, velocities: optimizer.velocities, history: history, settings: settings)
            observe(.epoch(report, isBest: isBest))
            if shouldStop() { return summary(completed: history.count == settings.epochs) }
        }
        return summary(completed: true)
    }

    private func summary(completed: Bool) -> TrainingSummary {
        let best = history.max { a, b in
            a.score(settings.bestBy) < b.score(settings.bestBy) || (a.score(settings.bestBy) == b.score(settings.bestBy) && a.epoch > b.epoch)
        }
        return TrainingSummary(history: history, best: best, completed: completed)
    }

    /// The mean loss of the epoch, or nil when stopped before its end.
    private func trainEpoch(_ epoch: Int, data: BatchProvider, shouldStop: () -> Bool,
                            observe: (TrainingEvent) -> Void) throws -> Double? {
        var total = 0.0, batches = 0
        let iterator = try data.trainBatches(epoch: epoch)
        while let next = iterator.next() {
            if shouldStop() { return nil }
            let batch = try next.get()
            let clips = Tensor(shape: batch.shape, data: batch.values)
            let loss = try model(clips, training: true).loss(targets: batch.labels, weights: settings.loss).total
            guard loss.item.isFinite else {
                throw TrainingError.diverged("the loss became \(loss.item) in epoch \(epoch + 1), batch \(batches + 1); lower --lr")
            }
            loss.backward()
            optimizer.step(model.parameters)
            total += Double(loss.item)
            batches += 1
            observe(.step(epoch: epoch + 1, batch: batches, batches: data.trainBatchCount, loss: Double(loss.item)))
        }
        return batches > 0 ? total / Double(batches) : 0
    }

    /// The confusion matrix of the model in evaluation mode on the test set.
    public func evaluate(epoch: Int, data: BatchProvider, observe: (TrainingEvent) -> Void = { _ in }) throws -> ConfusionMatrix {
        var matrix = ConfusionMatrix(classes: settings.model.classes)
        let iterator = try data.testBatches()
        var index = 0
        while let next = iterator.next() {
            let batch = try next.get()
            let logits = try Autograd.withoutGradient {
                try model(Tensor(shape: batch.shape, data: batch.values), training: false).logits
            }
            let classes = logits.shape[1]
            for (row, truth) in batch.labels.enumerated() {
                let scores = logits.data[row * classes..<(row + 1) * classes]
                matrix.add(truth: truth, prediction: scores.indices.max { scores[$0] < scores[$1] }! - row * classes)
            }
            index += 1
            observe(.evaluating(epoch: epoch + 1, batch: index, batches: data.testBatchCount))
        }
        return matrix
    }
}
