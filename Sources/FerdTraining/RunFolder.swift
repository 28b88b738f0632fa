import FerdModels
import FerdTensor
import Foundation

/// The files of one training run, whichever engine trains it: `settings.json`, `metrics.jsonl` (one line per
/// epoch), `best.safetensors` (the best epoch's weights, reference key names) and `resume.safetensors`
/// (weights, optimizer momentum, history and settings after the last finished epoch).
public struct RunFolder {
    public let directory: URL
    var settingsFile: URL { directory.appendingPathComponent("settings.json") }
    var metricsFile: URL { directory.appendingPathComponent("metrics.jsonl") }
    public var bestFile: URL { directory.appendingPathComponent("best.safetensors") }
    public var resumeFile: URL { directory.appendingPathComponent("resume.safetensors") }
    /// The resume checkpoint's metadata key of SCN's relabelled labels (``LabelStore`` as JSON).
    public static let labelsMetadataKey = "ferd.labels"

    public init(directory: URL) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.settings("cannot create the run folder \(directory.path): \(error.localizedDescription)")
        }
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// Begins a fresh run; refuses to overwrite another run's results.
    public func start(settings: TrainingSettings) throws {
        if FileManager.default.fileExists(atPath: resumeFile.path) {
            throw TrainingError.resume("\(directory.path) already holds a run; pass --resume to continue it or choose another --out")
        }
        try Self.encoder().encode(settings).write(to: settingsFile, options: .atomic)
        try Data().write(to: metricsFile, options: .atomic)
    }

    /// Appends the epoch's line to `metrics.jsonl`.
    public func appendMetrics(_ report: EpochReport) throws {
        let handle = try FileHandle(forWritingTo: metricsFile)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Self.encoder().encode(report) + Data("\n".utf8))
    }

    /// Writes the best epoch's weights.
    public func saveBest(_ checkpoint: SafetensorsFile) throws {
        try checkpoint.write(to: bestFile)
    }

    func saveResumeState(model: any ExpressionModel, velocities: [[Float]], history: [EpochReport], settings: TrainingSettings,
                         labels: LabelStore) throws {
        let parameterNames = model.store.names.filter { model.store.roles[$0] == .parameter }
        var state = model.checkpoint()
        for (name, velocity) in zip(parameterNames, velocities) where !velocity.isEmpty {
            state.tensors["optimizer.momentum." + name] = StoredTensor(shape: [velocity.count], values: velocity)
        }
        try saveResume(state, history: history, settings: settings, labels: labels)
    }

    /// Writes `resume.safetensors`: `state` (weights and `optimizer.momentum.*`) with the history and the settings
    /// in its metadata (and SCN's relabelled labels, `ferd.labels`, when there are any), as `loadResumeState` reads
    /// it back.
    public func saveResume(_ state: SafetensorsFile, history: [EpochReport], settings: TrainingSettings,
                           labels: LabelStore = LabelStore()) throws {
        var metadata = state.metadata
        if !labels.entries.isEmpty {
            metadata[Self.labelsMetadataKey] = String(decoding: try Self.encoder().encode(labels), as: UTF8.self)
        }
        metadata["ferd.history"] = String(decoding: try Self.encoder().encode(history), as: UTF8.self)
        metadata["ferd.settings"] = String(decoding: try Self.encoder().encode(settings), as: UTF8.self)
        try SafetensorsFile(tensors: state.tensors, integerTensors: state.integerTensors, metadata: metadata).write(to: resumeFile)
    }

    /// What a resume checkpoint holds.
    public struct ResumeState {
        public var model: SafetensorsFile
        public var velocities: [String: [Float]]
        public var history: [EpochReport]
        /// The settings the checkpoint was written with.
        public var settings: TrainingSettings
        /// SCN's relabelled labels (empty when the checkpoint holds none).
        public var labels: LabelStore
    }

    /// The model, optimizer state and history of the resume checkpoint, which must have been written with
    /// settings that train like `settings` (``TrainingSettings/trainsLike(_:)``: RAN's recomputation may differ)
    /// — or, with `acceptRescaledBatch`, that differ from them only in a batch size and a learning rate scaled in
    /// the same proportion.
    public func loadResumeState(settings: TrainingSettings, acceptRescaledBatch: Bool = false) throws -> ResumeState {
        guard FileManager.default.fileExists(atPath: resumeFile.path) else {
            throw TrainingError.resume("\(resumeFile.path) does not exist; start without --resume")
        }
        var file = try SafetensorsFile.read(contentsOf: resumeFile)
        guard let settingsJSON = file.metadata["ferd.settings"], let historyJSON = file.metadata["ferd.history"] else {
            throw TrainingError.resume("\(resumeFile.path) is not a ferd resume checkpoint")
        }
        let saved = try JSONDecoder().decode(TrainingSettings.self, from: Data(settingsJSON.utf8))
        guard saved.trainsLike(settings) || (acceptRescaledBatch && saved.differsOnlyByRescaledBatch(from: settings)) else {
            throw TrainingError.resume("\(resumeFile.path) was written with other settings (\(Self.difference(saved, settings))); resume with the original settings or start a new --out")
        }
        var velocities: [String: [Float]] = [:]
        for key in file.tensors.keys where key.hasPrefix("optimizer.momentum.") {
            velocities[String(key.dropFirst("optimizer.momentum.".count))] = file.tensors.removeValue(forKey: key)!.values
        }
        let history = try JSONDecoder().decode([EpochReport].self, from: Data(historyJSON.utf8))
        let labels = try file.metadata[Self.labelsMetadataKey].map { try JSONDecoder().decode(LabelStore.self, from: Data($0.utf8)) }
            ?? LabelStore()
        let lines = try history.map { String(decoding: try Self.encoder().encode($0), as: UTF8.self) + "\n" }.joined()
        try Data(lines.utf8).write(to: metricsFile, options: .atomic)
        return ResumeState(model: file, velocities: velocities, history: history, settings: saved, labels: labels)
    }

    /// The names of the settings that differ, for the resume error.
    private static func difference(_ a: TrainingSettings, _ b: TrainingSettings) -> String {
        var names: [String] = []
        if a.model != b.model { names.append("model") }
        if a.epochs != b.epochs { names.append("epochs \(a.epochs) vs \(b.epochs)") }
        if a.batchSize != b.batchSize { names.append("batch \(a.batchSize) vs \(b.batchSize)") }
        if a.learningRate != b.learningRate { names.append("lr \(a.learningRate) vs \(b.learningRate)") }
        if a.momentum != b.momentum || a.weightDecay != b.weightDecay { names.append("optimizer") }
        if a.schedule != b.schedule { names.append("schedule") }
        if a.loss != b.loss || a.methodLoss != b.methodLoss { names.append("loss weights") }
        if a.framesPerSegment != b.framesPerSegment { names.append("frames per segment") }
        if a.bestBy != b.bestBy { names.append("best-epoch metric") }
        if a.seed != b.seed { names.append("seed \(a.seed) vs \(b.seed)") }
        return names.joined(separator: ", ")
    }
}
