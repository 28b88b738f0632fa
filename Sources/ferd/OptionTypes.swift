import ArgumentParser
import FerdData
import FerdCluster
import FerdModels
import FerdReport
import FerdRuntime
import FerdTensor
import FerdTraining

/// A model preset by name, as `--preset` accepts it.
enum PresetName: String, CaseIterable, ExpressibleByArgument {
    case paper, small

    var configuration: ModelConfiguration { ModelConfiguration.preset(named: rawValue)! }
}

extension BestEpochMetric: ExpressibleByArgument {}
extension ModelMethod: ExpressibleByArgument {}
extension RANCropScheme: ExpressibleByArgument {}
extension STTAttention: ExpressibleByArgument {}
extension ReportMetric: ExpressibleByArgument {}
extension PublishedDataset: ExpressibleByArgument {}
extension TrainingEngine: ExpressibleByArgument {}
extension TorchWorkerOptions.Device: ExpressibleByArgument {}

/// `--db`, shared by the commands that read or write the leaderboard.
struct DatabaseOption: ParsableArguments {
    @Option(help: "Leaderboard database (SQLite).") var db: String = "ferd.db"
}

/// `--keys` and the hidden `--heartbeat`, shared by the coordinator and the worker.
struct ClusterOptions: ParsableArguments {
    @Option(help: "Folder with CURVE keys: the coordinator's coordinator.key/.pub and workers/*.pub, or a worker's <name>.key/.pub and coordinator.pub (ferd keygen).")
    var keys: String?
    @Option(help: .hidden) var heartbeat: Double = 1

    func validate() throws {
        guard heartbeat > 0 else { throw ValidationError("--heartbeat must be positive") }
    }
}

extension SyntheticDataset.Variability: ExpressibleByArgument {}
