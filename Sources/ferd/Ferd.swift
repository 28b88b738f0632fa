import ArgumentParser
import FerdTensor

/// The `ferd` command line: trains and evaluates dynamic facial-expression-recognition models.
@main
struct Ferd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferd",
        abstract: "Train and evaluate dynamic facial-expression-recognition models (GCA+IAL) on many machines.",
        version: "0.1.0",
        subcommands: [
            SynthCommand.self, PrepareCommand.self, TrainCommand.self, PredictCommand.self,
            CoordinatorCommand.self, WorkerCommand.self, StatusCommand.self, ReportCommand.self, DashboardCommand.self,
            KeygenCommand.self, DemoCommand.self, ReplayCommand.self,
        ]
    )

    /// Sets the engine's malloc up before any thread starts (see ``Heap``), then runs the command.
    static func main() {
        Heap.configure()
        main(nil)
    }
}
