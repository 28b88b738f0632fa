import FerdZeroMQ
import ArgumentParser
import FerdCluster
import FerdCollective
import FerdData
import FerdExperiment
import FerdLeaderboard
import FerdReport
import FerdRuntime
import FerdTensor
import Foundation
import Logging

/// `ferd coordinator`: expands an experiment into trials, stores them, and hands them to workers.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Serve an experiment's trials to workers over ZeroMQ and record the results in the leaderboard.")

    @Option(help: "Experiment file (YAML, see Configs/).") var config: String
    @OptionGroup var database: DatabaseOption
    @Option(help: "Endpoint to bind.") var bind: String = "tcp://127.0.0.1:5555"
    @OptionGroup var cluster: ClusterOptions
    @Flag(help: "Allow a non-loopback bind without CURVE keys (traffic unencrypted, any worker accepted).") var insecure = false
    @Flag(help: "Keep serving after the experiment is complete.") var serve = false
    @Flag(help: "Start a new experiment even if this file was submitted before.") var new = false
    @Option(help: "Dataset folder, replacing the experiment file's data.path.") var data: String?
    @Option(help: "Packed cache (ferd prepare) the workers read instead of JPEGs.") var cache: String?
    @Option(help: "Folder for the trials' best checkpoints (default: artifacts/ beside the database).") var artifacts: String?
    @Option(name: .customLong("gradient-bind"),
            help: "Endpoint of the gradient hub for experiments with workers_per_trial > 1 (default: the --bind host, a free port). With --keys it is encrypted and admits only the allow-listed workers; without, a non-loopback address needs --insecure.")
    var gradientBind: String?

    func run() throws {
        LogSetup.bootstrap(default: .info)
        let logger = Logger(label: "ferd.coordinator")
        let text: String
        do {
            text = try String(contentsOfFile: config, encoding: .utf8)
        } catch {
            throw CommandError("cannot read the experiment file \(config): \(error.localizedDescription)")
        }
        let definition: ExperimentDefinition
        do {
            definition = try ExperimentDefinition.parse(text, fileName: config)
        } catch {
            throw CommandError("\(config): \(error)")
        }
        let source = DataSource(root: data ?? definition.dataPath, layout: definition.layout?.rawValue, cache: cache)
        try serveExperiment(ExperimentServer.Options(definition: definition, data: source, database: database.db, endpoint: bind,
                                                     keys: cluster.keys, insecure: insecure, untilFinished: !serve,
                                                     forceNew: new, artifacts: artifacts, heartbeat: cluster.heartbeat,
                                                     gradientBind: gradientBind),
                            logger: logger)
    }
}

/// Serves `options`' experiment until it is complete (or stopped), printing the plan, progress and a summary;
/// exits with status 2 when trials failed.
func serveExperiment(_ options: ExperimentServer.Options, logger: Logger, bound: (String) -> Void = { _ in }) throws {
    let stop = FerdCluster.StopSignal()
    let trap = SignalTrap { stop.stop() }
    var monitor: ProgressMonitor?
    defer { monitor?.stop() }
    let summary = try ExperimentServer(options: options, logger: logger).run(until: stop, planned: { plan in
        print("experiment '\(options.definition.name)' (#\(plan.experiment.id), \(plan.created ? "new" : "resumed")): "
              + "\(plan.trials.count) trials to run, \(plan.alreadyDone) already done → \(options.database)")
        if plan.search.strategy != .grid || plan.search.duplicatesDropped > 0 {
            print("  \(plan.search)")
        }
        monitor = ProgressMonitor(database: options.database, experimentID: plan.experiment.id, logger: logger)
        monitor?.start()
    }, bound: bound)
    withExtendedLifetime(trap) {}
    monitor?.stop()
    print("experiment '\(options.definition.name)': \(summary.done) of \(summary.total) trials done"
          + (summary.failed > 0 ? ", \(summary.failed) failed" : ""))
    if summary.failed > 0 { throw ExitCode(2) }
}

/// Shows a running sweep from a second connection to its leaderboard: a bar of the epochs done with the pace and
/// ETA measured from the stored epochs (`SweepProgress`), a line for each epoch a trial stores (trial, fold,
/// grid point, epoch k/n, loss, UAR so far) and one for each trial that ends.
final class ProgressMonitor: @unchecked Sendable {
    private let database: String
    private let experimentID: Int
    private let logger: Logger
    private let done = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var running = false

    init(database: String, experimentID: Int, logger: Logger) {
        self.database = database
        self.experimentID = experimentID
        self.logger = logger
    }

    func start() {
        running = true
        let thread = Thread { [self] in
            let progress = ProgressReporter()
            guard let leaderboard = try? Leaderboard(path: database, logger: logger) else {
                finished.signal()
                return
            }
            var announced: [Int: Int] = [:]
            var ended: Set<Int>?
            repeat {
                if let report = try? leaderboard.report(experimentID: experimentID) {
                    let sweep = SweepProgress(trials: report.trials, gridPoints: report.gridPoints,
                                              epochMetrics: report.epochMetrics, results: report.results)
                    for trial in sweep.runningTrials {
                        guard let epoch = trial.epoch, announced[trial.trialID] != epoch else { continue }
                        announced[trial.trialID] = epoch
                        progress.log(SweepProgress.describe(trial))
                    }
                    // Trials that finish while this runs (not those a resumed sweep had finished before).
                    for trial in sweep.finishedTrials where ended?.contains(trial.trialID) == false {
                        progress.log(SweepProgress.describe(trial))
                    }
                    ended = Set(sweep.finishedTrials.map(\.trialID))
                    let estimate = sweep.secondsPerEpoch.map { pace in
                        ProgressReporter.Estimate(pace: String(format: "%.1f s/epoch", pace),
                                                  remainingSeconds: sweep.remainingSeconds ?? 0)
                    }
                    progress.update("sweep", done: sweep.epochsDone, total: sweep.epochsTotal, unit: "epochs",
                                    status: sweep.trialSummary, estimate: estimate)
                }
            } while done.wait(timeout: .now() + 1) == .timedOut
            progress.finishLine()
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        guard running else { return }
        running = false
        done.signal()
        finished.wait()
    }
}

/// `ferd worker`: trains the trials a coordinator assigns.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Train the trials a coordinator hands out and stream metrics and results back.")

    @Option(help: "The coordinator's endpoint.") var connect: String = "tcp://127.0.0.1:5555"
    @Option(help: "The engine that trains: swift (this process, CPUs) or torch (the PyTorch engine, one process per trial; GPUs).")
    var engine: TrainingEngine = .swift
    @Option(help: "Python with torch for --engine torch (default: $FERD_PYTHON, else the first python3 on PATH that imports torch).")
    var python: String?
    @Option(help: ArgumentHelp("GPUs for --engine torch: indices or all; one trial per GPU.", valueName: "0,1,…|all"))
    var gpus: String = "all"
    @Option(help: "Where --engine torch trains: cuda or cpu.") var device: TorchWorkerOptions.Device = .cuda
    @Option(help: "Trials run at once (default: 1; with --engine torch on cuda, the number of GPUs).") var slots: Int?
    @Option(help: "Threads for the engine (default: all cores).") var threads: Int?
    @Option(name: .customLong("data-root"), help: "This machine's copy of the dataset, replacing the coordinator's path.")
    var dataRoot: String?
    @Option(help: "Folder for the trials' run folders and the resume checkpoints fetched for them (downloads/); give each worker on a machine its own.")
    var work: String = "ferd-work"
    @Option(help: "Worker name (default: host name and process id).") var name: String?
    @Option(name: .customLong("ring-bind"),
            help: "Address this worker binds for ring gradient exchange with its gang (reachable by the others), e.g. tcp://10.0.0.5:*; with --keys the ring is encrypted with CURVE.")
    var ringBind: String = "tcp://127.0.0.1:*"
    @Option(name: .customLong("gang-timeout"),
            help: ArgumentHelp("Seconds a member of a data-parallel gang waits for a silent peer, or for the others to meet (default: 60 with --engine swift; 120 with --engine torch, whose rendezvous includes each engine's start-up).",
                               valueName: "seconds"))
    var gangTimeout: Double?
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .customLong("simulate-trials"),
            help: ArgumentHelp("Testing aid: do not train; pretend every trial takes this many seconds per epoch and report fixed scores.",
                               valueName: "seconds-per-epoch"))
    var simulateTrials: Double?
    @Option(name: .customLong("simulate-epochs"), help: "Testing aid: epochs of a simulated trial.") var simulateEpochs: Int = 3

    func validate() throws {
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
        if let gangTimeout, !(gangTimeout > 0 && gangTimeout.isFinite) {
            throw ValidationError("--gang-timeout must be a positive number of seconds, got \(gangTimeout)")
        }
        if let simulateTrials, simulateTrials < 0 || simulateEpochs < 1 {
            throw ValidationError("--simulate-trials must not be negative and --simulate-epochs must be at least 1")
        }
        if engine == .swift && (python != nil || gpus != "all") {
            throw ValidationError("--python and --gpus apply to --engine torch; add --engine torch or leave them out")
        }
        if engine == .torch && simulateTrials != nil {
            throw ValidationError("--simulate-trials replaces the engine; leave out --engine torch")
        }
        _ = try requestedGPUs()
    }

    /// `--gpus` as indices; nil for all.
    private func requestedGPUs() throws -> [Int]? {
        guard gpus != "all" else { return nil }
        let parts = gpus.split(separator: ",", omittingEmptySubsequences: false)
        let indices = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard indices.count == parts.count, indices.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--gpus '\(gpus)' must be all or comma-separated GPU indices such as 0,1")
        }
        return indices
    }

    func run() throws {
        LogSetup.bootstrap(default: .info)
        if let threads { Threading.setCount(threads) }
        let workFolder = try WorkFolderLock(folder: URL(fileURLWithPath: work))
        defer { withExtendedLifetime(workFolder) {} }
        let workerName = name ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        var logger = Logger(label: "ferd.worker")
        logger[metadataKey: "worker"] = "\(workerName)"
        let curve = try cluster.keys.map { folder throws -> CurveClientKeys in
            let directory = URL(fileURLWithPath: folder)
            let server = try String(contentsOf: directory.appendingPathComponent("coordinator.pub"), encoding: .utf8)
            return CurveClientKeys(serverKey: server.trimmingCharacters(in: .whitespacesAndNewlines),
                                   keyPair: try KeyFiles.load(name: workerName, in: directory))
        }
        var backend = "swift on cpu"
        var slots = self.slots ?? 1
        let display = ProgressReporter()
        let progress: @Sendable (TrialProgress) -> Void = { step in
            if step.batch == 1 { display.restart() }
            let phase = step.phase == .evaluating ? " test" : ""
            display.update("trial \(step.trialID) epoch \(step.epoch)/\(step.epochs)\(phase)", done: step.batch,
                           total: step.batches, unit: "batches", status: step.loss.map { String(format: "loss %.4f", $0) } ?? "")
        }
        let runner: any TrialRunner
        if let simulateTrials {
            runner = SimulatedTrialRunner(secondsPerEpoch: simulateTrials, epochs: simulateEpochs)
        } else if engine == .torch {
            let options = try TorchWorkerOptions.resolve(python: try TorchPython.locate(python), device: device,
                                                         requested: try requestedGPUs(), threads: threads ?? 0)
            if options.device == .cuda {
                slots = self.slots ?? options.gpus.count
            }
            backend = "torch on " + options.backendDescription
            logger.info("torch engine", metadata: ["python": "\(options.python.executable)", "devices": "\(backend)"])
            runner = EngineTrialRunner(options: options, workDirectory: URL(fileURLWithPath: work), dataRoot: dataRoot, logger: logger,
                                       ringBindAddress: ringBind, gangTimeout: gangTimeout ?? EngineTrialRunner.defaultGangTimeout,
                                       progress: progress)
        } else {
            runner = TrainingTrialRunner(workDirectory: URL(fileURLWithPath: work), dataRoot: dataRoot, logger: logger,
                                         ringBindAddress: ringBind, gangTimeout: gangTimeout ?? TrainingTrialRunner.defaultGangTimeout,
                                         progress: progress, curve: curve)
        }
        let hello = Hello(workerID: workerName, ferdVersion: Ferd.configuration.version, cores: Threading.count,
                          backend: backend, engine: engine, slots: slots, publicKey: curve?.keyPair.publicKey)
        let session = WorkerSession.Configuration(hello: hello, heartbeatInterval: cluster.heartbeat, reconnectDelay: cluster.heartbeat,
                                                  maxReconnectDelay: max(32, cluster.heartbeat))
        let downloads = URL(fileURLWithPath: work).appendingPathComponent("downloads")
        let worker = Worker(configuration: Worker.Configuration(endpoint: connect, session: session, curve: curve,
                                                                downloadDirectory: downloads),
                            runner: runner, logger: logger)
        let stop = FerdCluster.StopSignal()
        // First signal: finish the running epochs, report the trials as interrupted, leave. Second: stop now.
        let trap = SignalTrap(firstMessage: "finishing the current epoch, then leaving (signal again to stop at once)",
                              onStop: { stop.finishEpochs() },
                              secondMessage: "stopping the running trials now (signal again to exit at once)",
                              onSecond: { stop.stop() })
        try worker.run(until: stop)
        display.finishLine()
        withExtendedLifetime(trap) {}
    }
}

/// `ferd keygen`: a CURVE key pair for a coordinator or a worker.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair: <name>.key (secret, mode 0600) and <name>.pub.",
        discussion: "Give the coordinator's folder coordinator.key/.pub and a workers/ folder with each allowed worker's .pub; give each worker its own pair and coordinator.pub.")

    @Option(help: "Key name: coordinator, or the worker's --name.") var name: String = "coordinator"
    @Option(help: "Folder for the key files.") var out: String = "keys"

    func run() throws {
        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = try KeyFiles.save(CurveKeyPair.generate(), name: name, in: directory)
        print("wrote \(files.secret.path) (secret) and \(files.public.path)")
    }
}

/// `ferd status`: experiments, running trials, the costs of data-parallel trials and the workers of a leaderboard;
/// with `--watch`, again every few seconds (redrawn in place on a terminal) until interrupted.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Experiments, running trials, data-parallel costs, workers and dropped messages.")

    @OptionGroup var database: DatabaseOption
    @Flag(help: "Show the status again every --interval seconds, in place on a terminal, until interrupted (Ctrl-C).")
    var watch = false
    @Option(help: "Seconds between refreshes with --watch.") var interval: Double = 2

    func validate() throws {
        guard interval >= 0.2 else { throw ValidationError("--interval must be at least 0.2 seconds") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: database.db) else {
            throw CommandError("\(database.db) does not exist; give the coordinator's --db")
        }
        let leaderboard = try Leaderboard(path: database.db, logger: Logger(label: "ferd.status"))
        guard watch else { return print(try render(leaderboard), terminator: "") }
        let stop = DispatchSemaphore(value: 0)
        let trap = SignalTrap(firstMessage: "stopped watching", onStop: { stop.signal() })
        let terminal = isatty(STDOUT_FILENO) != 0
        repeat {
            let text = try render(leaderboard)
            let screen = terminal
                ? "\u{1B}[H\u{1B}[2J" + "ferd status — \(database.db), every \(interval) s (Ctrl-C to stop)\n\n" + text
                : "--- \(ISO8601DateFormatter().string(from: Date()))\n" + text
            FileHandle.standardOutput.write(Data(screen.utf8))
        } while stop.wait(timeout: .now() + interval) == .timedOut
        withExtendedLifetime(trap) {}
    }

    private func render(_ leaderboard: Leaderboard) throws -> String {
        let experiments = try leaderboard.experiments().map { experiment in
            ClusterStatus.ExperimentState(experiment: experiment, trials: try leaderboard.trials(experimentID: experiment.id),
                                          epochMetrics: try leaderboard.epochMetrics(experimentID: experiment.id),
                                          gridPoints: try leaderboard.gridPoints(experimentID: experiment.id),
                                          budgetNotice: try leaderboard.budgetNotice(since: experiment.created))
        }
        let status = ClusterStatus(experiments: experiments, workers: try leaderboard.workers(),
                                   droppedMessages: try leaderboard.droppedMessages())
        return status.render(now: Date(), style: .detect())
    }
}
