import FerdExperiment
import FerdTraining
import Foundation

/// What the coordinator sends a worker in ASSIGN (as JSON): how to train, on which fold of which data.
public struct TrialConfiguration: Sendable, Codable, Equatable {
    public var settings: TrainingSettings
    public var fold: Int
    public var data: DataSource
    /// The grid point, for logs and reports (canonical JSON).
    public var parameters: String
    /// Workers that train the trial together; the batch is split among them (docs/DATA-PARALLEL.md).
    public var workersPerTrial: Int?
    /// How a gang exchanges gradients, when `workersPerTrial` is above 1.
    public var dataParallel: DataParallelSettings?
    /// The engine the experiment pinned and the torch engine's options; nil: any engine, defaults.
    public var engine: EngineSettings?
    /// The experiment's `init:`: weights a fresh attempt starts from (a path on the worker); nil: none.
    public var initWeights: String?

    public init(settings: TrainingSettings, fold: Int, data: DataSource, parameters: String,
                workersPerTrial: Int? = nil, dataParallel: DataParallelSettings? = nil, engine: EngineSettings? = nil,
                initWeights: String? = nil) {
        self.initWeights = initWeights
        self.settings = settings
        self.fold = fold
        self.data = data
        self.parameters = parameters
        self.workersPerTrial = workersPerTrial
        self.dataParallel = dataParallel
        self.engine = engine
    }

    /// A gang smaller than `workersPerTrial` trains a smaller global batch (each member keeps its share) with the
    /// learning rate scaled by size / workers_per_trial (docs/DATA-PARALLEL.md).
    mutating func scale(toGangOf size: Int) {
        guard let requested = workersPerTrial, size != requested else { return }
        settings.batchSize = settings.batchSize / requested * size
        settings.learningRate *= Float(size) / Float(requested)
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> TrialConfiguration {
        do {
            return try JSONDecoder().decode(TrialConfiguration.self, from: Data(json.utf8))
        } catch {
            throw TrainingError.settings("the coordinator sent a trial this worker cannot read (\(error)); run the same ferd version on both")
        }
    }
}
