import FerdData
import FerdDigest
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
    /// The clips `shard` takes from each batch of ``trainBatches(epoch:)`` (``ClipShard/select(_:)``),
    /// with the same values. The default cuts them out of the whole batches; a loader can build only them.
    func trainBatches(epoch: Int, shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>>
    /// The clips `shard` takes from each batch of ``testBatches()``; a part may be empty.
    func testBatches(shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>>
}

extension BatchProvider {
    public func trainBatches(epoch: Int, shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.select(shard, from: try trainBatches(epoch: epoch))
    }

    public func testBatches(shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.select(shard, from: try testBatches())
    }

    private static func select(_ shard: ClipShard, from batches: AnyIterator<Result<ClipBatch, Error>>)
        -> AnyIterator<Result<ClipBatch, Error>> {
        AnyIterator { batches.next().map { $0.map { $0.selecting(shard) } } }
    }
}

/// Progress the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    /// A training step finished: `batch` of `batches` in `epoch` (1-based), with its loss (with a gang,
    /// the loss of this member's shard).
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

/// Trains one model (any ``ModelMethod``) on one fold: SGD over the training batches, evaluation on the test set
/// after every epoch, the best epoch's weights and a resume checkpoint in the run folder.
///
/// With a gang (docs/DATA-PARALLEL.md) every member trains on its shard of each batch, the gradients are
/// averaged over the gang during the backward pass, batch-norm running statistics are averaged and the
/// replicas' states compared after every epoch, and the test set is evaluated in shards whose confusion
/// matrices are summed, so all members report the same epochs.
public final class Trainer {
    public let settings: TrainingSettings
    public let model: any ExpressionModel
    private var optimizer: SGD
    private let runFolder: RunFolder
    private let logger: Logger
    private let gang: GangCommunicator?
    private let shard: ClipShard
    private(set) var history: [EpochReport] = []
    /// SCN's relabelled training labels (empty for other methods and before the relabel epoch).
    public private(set) var labels = LabelStore()
    /// SHA-256 (hex) of the parameters and buffers at the last comparison of the gang's replicas
    /// (before the first epoch, then after each epoch); nil without a gang.
    public private(set) var stateDigest: String?
    /// What starting from `initialWeights` matched (nil without them, and when resuming).
    public let initialWeightsReport: WeightLoadReport?

    /// A trainer writing into `runDirectory`. With `resume`, it continues from the resume checkpoint
    /// there (which must have been written with the same settings; with `acceptRescaledBatch`, also with
    /// another batch size whose learning rate was scaled in proportion, as a data-parallel trial resumed by
    /// a gang of another size is). With `gang`, it is that gang's member `gang.rank`; `settings.batchSize`
    /// must be a multiple of the gang's size. A fresh run with `initialWeights` (a `.safetensors` file) starts from
    /// the weights whose names and shapes match the model's (``ExpressionModels/initialise(_:from:)``); what did
    /// not match is logged and kept in ``initialWeightsReport``.
    public init(settings: TrainingSettings, runDirectory: URL, resume: Bool, acceptRescaledBatch: Bool = false,
                initialWeights: URL? = nil, logger: Logger, gang: GangCommunicator? = nil) throws {
        try settings.validate()
        if let gang, settings.batchSize % gang.size != 0 {
            throw TrainingError.settings("batch size \(settings.batchSize) cannot be split evenly over the \(gang.size) workers of the gang; use a multiple of \(gang.size)")
        }
        self.gang = gang
        shard = gang.map { ClipShard(rank: $0.rank, count: $0.size) } ?? .whole
        self.settings = settings
        self.logger = logger
        self.runFolder = try RunFolder(directory: runDirectory)
        let model = try ExpressionModels.make(settings.model, seed: settings.seed)
        self.model = model
        optimizer = SGD(learningRate: settings.learningRate, momentum: settings.momentum, weightDecay: settings.weightDecay)
        if resume {
            let state = try runFolder.loadResumeState(settings: settings, acceptRescaledBatch: acceptRescaledBatch)
            try model.store.load(state.model)
            optimizer.velocities = model.store.names.filter { model.store.roles[$0] == .parameter }.map { state.velocities[$0] ?? [] }
            history = state.history
            labels = state.labels
            logger.info("resuming after epoch \(history.count) of \(settings.epochs)")
            if state.settings != settings {
                logger.notice("the resume checkpoint was written with batch \(state.settings.batchSize) and lr \(state.settings.learningRate); continuing with batch \(settings.batchSize) and lr \(settings.learningRate)")
            }
            initialWeightsReport = nil
        } else {
            try runFolder.start(settings: settings)
            initialWeightsReport = try initialWeights.map { url in try Self.initialise(model, from: url, logger: logger) }
        }
    }

    /// Loads `url` into `model` where names and shapes match, logging what did not.
    private static func initialise(_ model: any ExpressionModel, from url: URL, logger: Logger) throws -> WeightLoadReport {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile.read(contentsOf: url)
        } catch {
            throw TrainingError.settings("cannot read the initial weights \(url.path) (\(error)); give a .safetensors file")
        }
        let report = ExpressionModels.initialise(model, from: file)
        guard !report.loaded.isEmpty else {
            throw TrainingError.settings("no entry of \(url.path) matches the \(model.configuration.method.rawValue) model by name and shape "
                                         + "(\(report.unmatchedInFile.count) keys in the file); give weights of this method or a torchvision ResNet")
        }
        let level: Logger.Level = report.unmatchedInFile.isEmpty && report.missingInModel.isEmpty && report.shapeMismatches.isEmpty
            ? .info : .notice
        logger.log(level: level, "initial weights from \(url.path):\n\(report.summary())")
        return report
    }

    /// The epochs already trained (when resuming).
    public var completedEpochs: Int { history.count }

    /// Trains until `settings.epochs` or until `shouldStop` returns true (checked between steps; the
    /// unfinished epoch is then discarded and will be re-run by a resumed run). With a gang, `shouldStop`
    /// is checked after each epoch only, and the gang stops together when any member asks to.
    public func run(data: BatchProvider, shouldStop: () -> Bool = { false },
                    observe: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        guard data.trainBatchCount > 0 else {
            throw TrainingError.data("the training split yields no batch of \(settings.batchSize) clips; lower --batch or add clips")
        }
        if let gang { try compareReplicas(gang, after: "epoch \(history.count) (before training)") }
        for epoch in history.count..<settings.epochs {
            let started = DispatchTime.now().uptimeNanoseconds
            optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
            guard let trained = try trainEpoch(epoch, data: data, shouldStop: shouldStop, observe: observe) else {
                logger.notice("stopped during epoch \(epoch + 1); the resume checkpoint holds epoch \(history.count)")
                return summary(completed: false)
            }
            var changes = trained.relabelled
            if let gang, relabels(epoch) {
                let encoded = try JSONEncoder().encode(changes)
                changes = try gang.allGather(Array(encoded)).flatMap { bytes in
                    try JSONDecoder().decode([LabelStore.Change].self, from: Data(bytes))
                }
            }
            labels.apply(changes)
            var gangReport: GangEpochReport?
            if let gang {
                try averageBatchNormStatistics(gang)
                try compareReplicas(gang, after: "epoch \(epoch + 1)")
                gangReport = GangEpochReport(rank: gang.rank, size: gang.size, stateDigest: stateDigest!,
                                             steps: trained.steps, exchangeSeconds: trained.exchangeSeconds)
            }
            let matrix = try evaluate(epoch: epoch, data: data, observe: observe)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let report = EpochReport(epoch: epoch + 1, trainLoss: trained.loss, learningRate: Double(optimizer.learningRate),
                                     seconds: seconds, matrix: matrix, gang: gangReport,
                                     relabels: relabels(epoch) ? labels.report(changes: changes, classes: settings.model.classes) : nil)
            let isBest = history.allSatisfy { report.score(settings.bestBy) > $0.score(settings.bestBy) }
            history.append(report)
            if isBest { try runFolder.saveBest(model.checkpoint(metadata: ["epoch": "\(report.epoch)"])) }
            try runFolder.appendMetrics(report)
            try runFolder.saveResumeState(model: model, velocities: optimizer.velocities, history: history, settings: settings,
                                          labels: labels)
            observe(.epoch(report, isBest: isBest))
            if try stopRequested(shouldStop) { return summary(completed: history.count == settings.epochs) }
        }
        return summary(completed: true)
    }

    private func summary(completed: Bool) -> TrainingSummary {
        let best = history.max { a, b in
            a.score(settings.bestBy) < b.score(settings.bestBy) || (a.score(settings.bestBy) == b.score(settings.bestBy) && a.epoch > b.epoch)
        }
        return TrainingSummary(history: history, best: best, completed: completed)
    }

    /// What one epoch of training gave.
    private struct TrainedEpoch {
        /// The mean loss over the epoch's steps (with a gang: of the gang's mean loss per step).
        var loss: Double
        var steps: Int
        /// Seconds in `finishStep` (gang only).
        var exchangeSeconds: Double
        /// SCN: this member's relabelling of its clips, in step order (applied after the epoch: a clip is seen
        /// once per epoch, so a change only matters from the next epoch on).
        var relabelled: [LabelStore.Change]
    }

    /// Whether SCN relabels in `epoch` (0-based): from `relabelEpoch` (1-based) on, as its code does.
    private func relabels(_ epoch: Int) -> Bool {
        settings.model.method == .scn && epoch + 1 >= settings.methodLoss.scn.relabelEpoch
    }

    /// The epoch's training, or nil when stopped before its end. With a gang, `shouldStop` is only
    /// consulted between epochs: a member leaving mid-epoch would strand the others.
    private func trainEpoch(_ epoch: Int, data: BatchProvider, shouldStop: () -> Bool,
                            observe: (TrainingEvent) -> Void) throws -> TrainedEpoch? {
        var losses: [Float] = []
        var exchangeSeconds = 0.0
        var relabelled: [LabelStore.Change] = []
        let iterator = try gang == nil ? data.trainBatches(epoch: epoch) : data.trainBatches(epoch: epoch, shard: shard)
        while let next = iterator.next() {
            if gang == nil && shouldStop() { return nil }
            let batch = try next.get()
            let clips = Tensor(shape: batch.shape, data: batch.values)
            let targets = labels.labels(for: batch.clipIDs, dataset: batch.labels)
            let output = try model(clips, training: true)
            let loss = try output.objective(method: settings.model.method, targets: targets, weights: settings.loss,
                                            methodLoss: settings.methodLoss).total
            guard loss.item.isFinite else {
                throw TrainingError.diverged("the loss became \(loss.item) in epoch \(epoch + 1), batch \(losses.count + 1); lower --lr")
            }
            if let gang {
                exchangeSeconds += try backwardAveragingGradients(loss, over: gang)
            } else {
                loss.backward()
            }
            optimizer.step(model.parameters)
            if relabels(epoch) {
                relabelled += LabelStore.relabel(clipIDs: batch.clipIDs, targets: targets, logits: output.logits.data,
                                                 classes: settings.model.classes, margin: settings.methodLoss.scn.relabelMargin)
            }
            losses.append(loss.item)
            observe(.step(epoch: epoch + 1, batch: losses.count, batches: data.trainBatchCount, loss: Double(loss.item)))
        }
        if let gang { try gang.allReduce(&losses, average: true) }
        let total = losses.reduce(0.0) { $0 + Double($1) }
        return TrainedEpoch(loss: losses.isEmpty ? 0 : total / Double(losses.count), steps: losses.count,
                            exchangeSeconds: exchangeSeconds, relabelled: relabelled)
    }

    /// Back-propagates `loss` and replaces the parameters' gradients by their average over the gang:
    /// each gradient is offered as soon as the backward pass has finished it, in the order the graph
    /// announces (the same on every member, since all run the same model on equally sized shards).
    /// Returns the seconds spent in `finishStep`.
    private func backwardAveragingGradients(_ loss: Tensor, over gang: GangCommunicator) throws -> Double {
        let parameterIDs = Set(model.parameters.map(ObjectIdentifier.init))
        var order: [Tensor] = []
        var slots: [ObjectIdentifier: Int] = [:]
        var failure: Error?
        loss.backward(announcing: { leaves in
            order = leaves.filter { parameterIDs.contains(ObjectIdentifier($0)) }
            for (slot, parameter) in order.enumerated() { slots[ObjectIdentifier(parameter)] = slot }
            do { try gang.beginStep(sizes: order.map(\.count)) } catch { failure = error }
        }, onLeafGradientReady: { leaf in
            guard failure == nil, let slot = slots[ObjectIdentifier(leaf)] else { return }
            if leaf.grad == nil { leaf.grad = [Float](repeating: 0, count: leaf.count) }
            do { try leaf.grad!.withUnsafeBufferPointer { try gang.offer(slot, $0) } } catch { failure = error }
        })
        if let failure { throw failure }
        let started = DispatchTime.now().uptimeNanoseconds
        try gang.finishStep { slot, average in
            order[slot].withGradBuffer { gradient in _ = gradient.update(fromContentsOf: average) }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }

    /// Replaces every member's batch-norm running statistics (the float buffers) by their gang mean.
    private func averageBatchNormStatistics(_ gang: GangCommunicator) throws {
        let buffers = model.store.names.compactMap { model.store.roles[$0] == .buffer ? model.store.tensors[$0] : nil }
        var values = buffers.flatMap(\.data)
        try gang.allReduce(&values, average: true)
        var start = 0
        for buffer in buffers {
            buffer.data = Array(values[start..<(start + buffer.count)])
            start += buffer.count
        }
    }

    /// Records the digest of this member's parameters and buffers and throws when another member's differs.
    private func compareReplicas(_ gang: GangCommunicator, after point: String) throws {
        let digest = Self.digest(of: model.store)
        stateDigest = digest
        let digests = try gang.allGather(Array(digest.utf8)).map { String(decoding: $0, as: UTF8.self) }
        guard Set(digests).count > 1 else { return }
        let counts = Dictionary(digests.map { ($0, 1) }, uniquingKeysWith: +)
        let majority = digests.max { counts[$0]! < counts[$1]! }!
        let ranks = digests.indices.filter { digests[$0] != majority }
        let held = ranks.map { "rank \($0): \(digests[$0].prefix(16))" }.joined(separator: ", ")
        throw TrainingError.replicasDiverged(
            ranks: ranks,
            detail: "after \(point) (state digests \(held); the others: \(majority.prefix(16)))")
    }

    /// SHA-256 (hex) of a model state: every entry in `state_dict` order, name then raw little-endian values.
    static func digest(of store: ParameterStore) -> String {
        var hash = SHA256()
        for name in store.names {
            hash.update(field: name)
            if let tensor = store.tensors[name] {
                tensor.data.withUnsafeBytes { hash.update($0) }
            } else if let counter = store.counters[name] {
                withUnsafeBytes(of: counter.littleEndian) { hash.update($0) }
            }
        }
        return hash.hexDigest()
    }

    /// Whether to stop after this epoch; with a gang, when any member was asked to, so all stop together.
    private func stopRequested(_ shouldStop: () -> Bool) throws -> Bool {
        guard let gang else { return shouldStop() }
        var votes: [Float] = [shouldStop() ? 1 : 0]
        try gang.allReduce(&votes, average: false)
        return votes[0] > 0
    }

    /// The confusion matrix of the model in evaluation mode on the test set. With a gang, every member
    /// must call this together: each evaluates its shard and gets the sum over the gang.
    public func evaluate(epoch: Int, data: BatchProvider, observe: (TrainingEvent) -> Void = { _ in }) throws -> ConfusionMatrix {
        var matrix = ConfusionMatrix(classes: settings.model.classes)
        let iterator = try gang == nil ? data.testBatches() : data.testBatches(shard: shard)
        var index = 0
        while let next = iterator.next() {
            let batch = try next.get()
            index += 1
            guard !batch.labels.isEmpty else {
                observe(.evaluating(epoch: epoch + 1, batch: index, batches: data.testBatchCount))
                continue
            }
            let logits = try Autograd.withoutGradient {
                try model(Tensor(shape: batch.shape, data: batch.values), training: false).logits
            }
            let classes = logits.shape[1]
            for (row, truth) in batch.labels.enumerated() {
                let scores = logits.data[row * classes..<(row + 1) * classes]
                matrix.add(truth: truth, prediction: scores.indices.max { scores[$0] < scores[$1] }! - row * classes)
            }
            observe(.evaluating(epoch: epoch + 1, batch: index, batches: data.testBatchCount))
        }
        guard let gang else { return matrix }
        var counts = matrix.counts.flatMap { $0.map(Float.init) }
        try gang.allReduce(&counts, average: false)
        let classes = matrix.classes
        return ConfusionMatrix(counts: (0..<classes).map { row in counts[(row * classes)..<((row + 1) * classes)].map { Int($0) } })!
    }
}
