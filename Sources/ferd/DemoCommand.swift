import ArgumentParser
import FerdCluster
import FerdData
import FerdExperiment
import FerdLeaderboard
import FerdReport
import FerdRuntime
import Foundation
import Logging

/// `ferd demo`: the whole system on one machine — a synthetic dataset, a coordinator, worker
/// processes on loopback, the demo experiment, and the report.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demo experiment on synthetic data with a local coordinator and workers, then print the report.")

    @Option(help: "Working folder (dataset, cache, database, run folders); reused by later runs.") var dir: String = ".ferd-demo"
    @Option(help: "Experiment file (default: the embedded Configs/demo.yaml).") var config: String?
    @Option(help: "Local worker processes.") var workers: Int = 2
    @Option(help: "Synthetic clips to generate.") var clips: Int = 700
    @Flag(help: "Run the experiment again instead of reusing finished trials.") var new = false
    @Option(help: ArgumentHelp("The workers' engines, given to them in turn: swift, torch (the PyTorch engine on CPU) or a list such as swift,torch.",
                               valueName: "engine[,engine…]"))
    var engine: DemoEngines = DemoEngines(engines: [.swift])
    @Option(help: "Python with torch for torch workers (default: the first python3 that imports torch).") var python: String?

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        let logger = Logger(label: "ferd.demo")
        let root = URL(fileURLWithPath: dir)
        let dataset = root.appendingPathComponent("data")
        let cache = root.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let synthetic = SyntheticDataset(clips: clips, frames: 16...24, size: 64, seed: 0, classBalance: .balanced,
                                         variability: .mild)
        let recipeFile = root.appendingPathComponent("synthetic-recipe.txt")
        let recipe = "clips \(clips), frames 16-24, size 64, seed 0, balanced, variability mild\n"
        if FileManager.default.fileExists(atPath: dataset.appendingPathComponent("label").path),
           (try? String(contentsOf: recipeFile, encoding: .utf8)) == recipe {
            print("demo: reusing the synthetic dataset in \(dataset.path)")
        } else {
            try? FileManager.default.removeItem(at: dataset)
            try? FileManager.default.removeItem(at: cache)
            let report = try synthetic.write(to: dataset, logger: logger)
            try recipe.write(to: recipeFile, atomically: true, encoding: .utf8)
            print("demo: wrote \(report.clips) synthetic clips to \(dataset.path)")
        }
        let needsCache = (try? PackedCache(directory: cache.path, logger: logger).verifyDataset(logger: logger)) == nil
        if needsCache {
            try? FileManager.default.removeItem(at: cache)
            let prepared = try PackedCacheWriter.prepare(dataRoot: dataset.path, cacheDirectory: cache.path,
                                                         options: PrepareOptions(size: 56), logger: logger)
            print("demo: packed \(prepared.frames) frames into \(cache.path)")
        }
        let text = try config.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? DemoExperiment.yaml
        let definition: ExperimentDefinition
        do {
            definition = try ExperimentDefinition.parse(text, fileName: config ?? "Configs/demo.yaml")
        } catch {
            throw CommandError("\(config ?? "the demo experiment"): \(error)")
        }
        let database = root.appendingPathComponent("ferd.db").path
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if engine.engines.contains(.torch) { _ = try TorchPython.locate(python) }
        let fleet = WorkerFleet(executable: executable, count: workers, work: root.appendingPathComponent("work"),
                                engines: engine.engines, python: python)
        defer { fleet.stop() }
        try serveExperiment(ExperimentServer.Options(definition: definition, data: DataSource(root: dataset.path, cache: cache.path),
                                                     database: database, endpoint: "tcp://127.0.0.1:*", forceNew: new),
                            logger: logger) { endpoint in
            do {
                try fleet.start(connect: endpoint)
                print("demo: coordinator on \(endpoint), \(workers) worker processes (logs in \(root.path)/work)")
            } catch {
                logger.error("cannot start the worker processes: \(error)")
            }
        }
        fleet.stop()
        let leaderboard = try Leaderboard(path: database, logger: logger)
        let data = try ReportBuilder.build(try ExperimentLookup.load(leaderboard, selector: definition.name),
                                           options: ReportOptions())
        print("")
        print(ReportFormat.text.render(data, style: TextStyle.detect()), terminator: "")
        print("\nThe leaderboard is in \(database): ferd report --db \(database) --format html --out report.html")
    }
}

/// Local `ferd worker` processes for the demo.
final class WorkerFleet {
    private let executable: URL
    private let count: Int
    private let work: URL
    private let engines: [TrainingEngine]
    private let python: String?
    private var processes: [ChildProcess] = []

    init(executable: URL, count: Int, work: URL, engines: [TrainingEngine] = [.swift], python: String? = nil) {
        self.executable = executable
        self.count = count
        self.work = work
        self.engines = engines
        self.python = python
    }

    /// Starts the workers; each logs to `work/worker-N.log`.
    func start(connect endpoint: String) throws {
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / count)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        for index in 1...count {
            let log = work.appendingPathComponent("worker-\(index).log")
            guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
                throw CommandError("cannot create \(log.path); check that \(work.path) is writable")
            }
            let output = try FileHandle(forWritingTo: log)
            let child = ChildProcess()
            let process = child.process
            process.standardOutput = output
            process.standardError = output
            process.executableURL = executable
            let engine = engines[(index - 1) % engines.count]
            var arguments = ["worker", "--connect", endpoint, "--threads", "\(threads)", "--name", "demo-worker-\(index)",
                             "--work", work.appendingPathComponent("worker-\(index)").path]
            if engine == .torch {
                arguments += ["--engine", "torch", "--device", "cpu"] + (python.map { ["--python", $0] } ?? [])
            }
            process.arguments = arguments
            try child.run()
            processes.append(child)
        }
    }

    /// Asks the workers to leave (SIGTERM) and waits for them.
    func stop() {
        for child in processes where child.process.isRunning { child.process.terminate() }
        for child in processes { child.waitUntilExit() }
        processes = []
    }
}

/// `ferd demo --engine`: the engines of the local workers, in turn.
struct DemoEngines: ExpressibleByArgument {
    var engines: [TrainingEngine]

    init(engines: [TrainingEngine]) {
        self.engines = engines
    }

    init?(argument: String) {
        let parsed = argument.split(separator: ",").map { TrainingEngine(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { return nil }
        engines = parsed.compactMap { $0 }
    }

    var defaultValueDescription: String { engines.map(\.rawValue).joined(separator: ",") }
}
