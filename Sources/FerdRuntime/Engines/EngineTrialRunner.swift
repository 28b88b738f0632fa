import FerdCluster
import FerdCollective
import FerdDigest
import FerdLeaderboard
import FerdExperiment
import FerdModels
import FerdTensor
import FerdTraining
import FerdZeroMQ
import FerdSystem
import Foundation
import Logging
import Synchronization

/// How a `ferd worker --engine torch` runs trials: which Python, which devices.
public struct TorchWorkerOptions: Sendable {
    /// Where the engine trains.
    public enum Device: String, Sendable, CaseIterable {
        case cpu, cuda
    }

    public var python: TorchPython
    public var device: Device
    /// The GPU indices this worker hands out, one trial per GPU (or `gpus_per_trial` of them); empty on CPU.
    public var gpus: [Int]
    /// Intra-op threads per engine on CPU (0: torch's default).
    public var threads: Int

    public init(python: TorchPython, device: Device, gpus: [Int], threads: Int = 0) {
        self.python = python
        self.device = device
        self.gpus = gpus
        self.threads = threads
    }

    /// Checks the device choice against what torch sees; `requested` is `--gpus` (nil: all, "all" as well).
    public static func resolve(python: TorchPython, device: Device, requested: [Int]?, threads: Int) throws -> TorchWorkerOptions {
        guard device == .cuda else { return TorchWorkerOptions(python: python, device: .cpu, gpus: [], threads: threads) }
        guard python.cudaAvailable, !python.cudaDevices.isEmpty else {
            throw EngineError.cudaUnavailable(python: python.executable, torchVersion: python.torchVersion)
        }
        let available = python.cudaDevices.count
        let gpus = requested ?? Array(0..<available)
        for index in gpus where !(0..<available).contains(index) {
            throw EngineError.noSuchGPU(index: index, available: available)
        }
        guard Set(gpus).count == gpus.count, !gpus.isEmpty else {
            throw EngineError.option("--gpus lists a GPU twice or none; give distinct indices such as 0,1 or all")
        }
        return TorchWorkerOptions(python: python, device: .cuda, gpus: gpus, threads: threads)
    }

    /// The devices in words for HELLO and `ferd status`, e.g. "cuda:0,1 (NVIDIA H200)" or "cpu".
    public var backendDescription: String {
        guard device == .cuda else { return "cpu (torch \(python.torchVersion))" }
        let names = Set(gpus.map { python.cudaDevices[$0] }).sorted().joined(separator: ", ")
        return "cuda:\(gpus.map(String.init).joined(separator: ",")) (\(names); torch \(python.torchVersion))"
    }
}

/// Runs assigned trials in the PyTorch engine (or an experiment's own command), one process per trial
/// (`gpus_per_trial` processes for a trial over several GPUs), speaking docs/ENGINES.md. The worker keeps
/// everything the Swift engine guarantees: it computes the metrics, picks the best epoch, writes the run
/// folder's resume and best checkpoints in the Swift trainer's format and uploads resume bundles, so trials
/// move freely between Swift and torch workers.
public struct EngineTrialRunner: TrialRunner {
    public let options: TorchWorkerOptions
    public let workDirectory: URL
    public let dataRoot: String?
    public let logger: Logger
    /// The host of `--ring-bind`: where rank 0 of a torch gang serves the torch.distributed rendezvous.
    public let rendezvousHost: String
    /// Seconds a gang member waits for the others to join: at the hub, then at the engines' rendezvous (which
    /// includes each engine's start-up: importing torch and initialising CUDA can take a minute on a cold node).
    public let gangTimeout: Double
    /// ``gangTimeout`` unless `ferd worker --gang-timeout` says otherwise.
    public static let defaultGangTimeout: Double = 120
    /// Told the engine's progress events (from the attempts' threads).
    public let progress: (@Sendable (TrialProgress) -> Void)?
    private let freeGPUs: GPUPool

    public init(options: TorchWorkerOptions, workDirectory: URL, dataRoot: String?, logger: Logger,
                ringBindAddress: String = "tcp://127.0.0.1:*", gangTimeout: Double = defaultGangTimeout,
                progress: (@Sendable (TrialProgress) -> Void)? = nil) {
        self.progress = progress
        self.options = options
        self.workDirectory = workDirectory
        self.dataRoot = dataRoot
        self.logger = logger
        self.gangTimeout = gangTimeout
        let host = ringBindAddress.replacingOccurrences(of: "tcp://", with: "").split(separator: ":").first.map(String.init) ?? ""
        rendezvousHost = host.isEmpty || host == "*" || host == "0.0.0.0" ? "127.0.0.1" : host
        freeGPUs = GPUPool(options.gpus)
    }

    public func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        try run(trial: trial, resumeFile: nil, report: report, cancelled: cancelled, aborted: { false })
    }

    public func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
                    cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        var configuration = try TrialConfiguration.decode(trial.configJSON)
        if let dataRoot { configuration.data.root = dataRoot }
        let engine = configuration.engine ?? EngineSettings()
        var trialLogger = logger
        trialLogger[metadataKey: "trial"] = "\(trial.trialID)"
        guard engine.choice == .command || configuration.data.cache != nil else {
            return .failed(reason: "the torch engine reads a packed cache: run `ferd prepare --data \(configuration.data.root) --out CACHE` and start the coordinator with --cache CACHE", retryable: false)
        }
        if let placement = trial.gang { configuration.scale(toGangOf: placement.size) }
        let processes = options.device == .cuda && trial.gang == nil ? engine.gpusPerTrial : 1
        guard options.device == .cpu || processes <= options.gpus.count else {
            return .failed(reason: "torch.gpus_per_trial is \(processes) but this worker has \(options.gpus.count) GPU(s) (--gpus)", retryable: false)
        }
        let folder = workDirectory.appendingPathComponent("trial-\(trial.trialID)/attempt-\(trial.attempt)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let resumeFile {
            try ResumeBundle.unpack(resumeFile, into: folder)
            try? FileManager.default.removeItem(at: resumeFile)
        }
        let (files, history) = try RunFiles.begin(folder, settings: configuration.settings, resuming: resumeFile != nil,
                                                  acceptRescaledBatch: trial.gang != nil)
        let resumeFrom = resumeFile.map { _ in files.folder.resumeFile }
        var gpus: [Int] = []
        if options.device == .cuda {
            // With gpus_per_trial > 1 the worker may hold more trials than free GPUs; they wait here for theirs.
            while true {
                if let taken = freeGPUs.acquire(processes) {
                    gpus = taken
                    break
                }
                if cancelled() || aborted() { return .failed(reason: "interrupted while waiting for a free GPU", retryable: true) }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        defer { freeGPUs.release(gpus) }
        trialLogger.info("training in the torch engine", metadata: [
            "fold": "\(configuration.fold)", "grid": "\(configuration.parameters)", "from epoch": "\(history.count + 1)",
            "device": "\(options.device == .cuda ? "cuda:" + gpus.map(String.init).joined(separator: ",") : "cpu")",
        ])
        let gang = try trial.gang.map { try rendezvous($0, logger: trialLogger, aborted: aborted) }
        let ranks = try launch(processes: processes, gpus: gpus, configuration: configuration, engine: engine,
                               trial: trial, folder: folder, resumeFrom: resumeFrom, gang: gang)
        let reports = trial.gang.map { $0.rank == 0 } ?? true
        var run = EngineRun(settings: configuration.settings, history: history, timeout: engine.timeoutSeconds,
                            at: MonotonicClock.seconds())
        var signalled = false
        var killed = false
        var failure: Error?
        reading: while true {
            if !signalled && (cancelled() || aborted()) {
                signalled = true
                // Like the Swift trainer, a stopped attempt drops its unfinished epoch: the engine gets SIGTERM
                // (a custom script may clean up) and a short grace, then SIGKILL.
                trialLogger.info("stopping the engine (SIGTERM, then SIGKILL after 2 s)")
                ranks.forEach { $0.terminate() }
                let deadline = MonotonicClock.seconds() + 2
                DispatchQueue.global().async {
                    while MonotonicClock.seconds() < deadline && ranks.contains(where: \.isRunning) { Thread.sleep(forTimeInterval: 0.1) }
                    ranks.forEach { $0.kill() }
                }
            }
            var actions: [EngineRun.Action] = []
            switch ranks[0].nextLine(timeout: 0.5) {
            case .line(let line): actions = run.receive(line, at: MonotonicClock.seconds())
            case .timedOut: break
            case .endOfOutput: break reading
            }
            actions += run.tick(at: MonotonicClock.seconds())
            if ranks.dropFirst().contains(where: \.exitedWithFailure) && ranks[0].isRunning && !killed {
                trialLogger.warning("an engine rank failed; stopping the others")
                actions.append(.kill)
            }
            for action in actions {
                switch action {
                case let .epoch(epoch, isBest, checkpoint, history):
                    do {
                        let bundle = try files.store(epoch: epoch, isBest: isBest, checkpoint: checkpoint, history: history)
                        guard reports else { continue }
                        report(MetricEvent(epoch: epoch.epoch, trainLoss: epoch.trainLoss, uar: epoch.uar, war: epoch.war,
                                           learningRate: epoch.learningRate, seconds: epoch.seconds,
                                           confusion: epoch.confusion, resumeCheckpoint: bundle,
                                           relabels: epoch.relabels.map(RelabelStatistics.init)))
                    } catch {
                        failure = error
                        ranks.forEach { $0.kill() }
                        killed = true
                    }
                case let .progress(epoch, phase, batch, batches, loss):
                    progress?(TrialProgress(trialID: trial.trialID, attempt: trial.attempt, epoch: epoch,
                                            epochs: configuration.settings.epochs,
                                            phase: phase == "evaluate" ? .evaluating : .training, batch: batch,
                                            batches: batches, loss: loss))
                case .log(let text):
                    trialLogger.info("\(text)")
                case .kill:
                    ranks.forEach { $0.kill() }
                    killed = true
                }
            }
        }
        let statuses = ranks.map { $0.waitForExit() }
        if let failure { throw failure }
        switch run.finished(status: statuses[0], stderrTail: ranks[0].logTail()) {
        case let .completed(_, best):
            return try files.outcome(best: best)
        case let .stopped(history):
            return .failed(reason: "interrupted after \(history.count) epochs", retryable: true)
        case let .failed(reason, retryable):
            if signalled { return .failed(reason: "interrupted after \(run.history.count) epochs", retryable: true) }
            let others = zip(ranks, statuses).dropFirst().filter { $0.1 != 0 }
                .map { "another rank exited with \($0.1): \($0.0.logTail(5).joined(separator: " | "))" }
            return .failed(reason: ([reason] + others).joined(separator: "; "), retryable: retryable)
        }
    }

    /// Meets the other members of a torch gang through the coordinator's gradient hub: rank 0 picks the
    /// torch.distributed rendezvous address on its `--ring-bind` host and every member learns it.
    private func rendezvous(_ placement: GangPlacement, logger: Logger,
                            aborted: @escaping @Sendable () -> Bool) throws -> EngineSpec.Distributed {
        let offered = placement.rank == 0 ? "tcp://\(rendezvousHost):\(try freePort(on: rendezvousHost))" : ""
        logger.info("joining torch gang", metadata: ["rank": "\(placement.rank)", "size": "\(placement.size)",
                                                     "hub": "\(placement.hubEndpoint)"])
        let member = try GangMember(spec: GangSpec(gangID: placement.gangID, rank: placement.rank, size: placement.size,
                                                   topology: .star, hubEndpoint: placement.hubEndpoint, timeout: gangTimeout),
                                    context: try ZMQContext(), logger: logger, cancelled: aborted)
        defer { member.close() }
        let addresses = try member.allGather(Array(offered.utf8)).map { String(decoding: $0, as: UTF8.self) }
        return EngineSpec.Distributed(rank: placement.rank, worldSize: placement.size, initMethod: addresses[0],
                                      backend: options.device == .cuda ? "nccl" : "gloo", joinTimeout: gangTimeout)
    }

    /// Starts the engine processes of one attempt; element 0 is this worker's lowest rank, whose events it follows.
    private func launch(processes: Int, gpus: [Int], configuration: TrialConfiguration, engine: EngineSettings,
                        trial: Assignment, folder: URL, resumeFrom: URL?, gang: EngineSpec.Distributed?) throws -> [EngineProcess] {
        let arguments: [String]
        if engine.choice == .command {
            arguments = engine.command[0].hasPrefix("/") ? engine.command : ["/usr/bin/env"] + engine.command
        } else {
            arguments = [options.python.executable, "-m", "ferd_torch"]
        }
        var environment = ProcessInfo.processInfo.environment
        if let root = TorchPython.packageRoot() {
            environment["PYTHONPATH"] = ([root.path] + (environment["PYTHONPATH"].map { [$0] } ?? [])).joined(separator: ":")
        }
        environment["FERD_RUN_DIR"] = folder.path
        environment["FERD_TRIAL_ID"] = "\(trial.trialID)"
        environment["FERD_FOLD"] = "\(configuration.fold)"
        if options.device == .cuda { environment["CUDA_VISIBLE_DEVICES"] = gpus.map(String.init).joined(separator: ",") }
        let local = processes > 1 ? "tcp://127.0.0.1:\(try freePort(on: "127.0.0.1"))" : nil
        return try (0..<processes).map { rank in
            let distributed = gang ?? local.map {
                EngineSpec.Distributed(rank: rank, worldSize: processes, initMethod: $0,
                                       backend: options.device == .cuda ? "nccl" : "gloo", joinTimeout: gangTimeout)
            }
            let spec = EngineSpec(configuration: configuration, engine: engine, trial: trial, folder: folder,
                                  resumeFrom: resumeFrom, initFrom: resumeFrom == nil ? configuration.initWeights.map(URL.init(fileURLWithPath:)) : nil,
                                  device: options.device, threads: options.threads,
                                  distributed: distributed)
            let log = folder.appendingPathComponent(rank == 0 ? "engine.log" : "engine-rank-\(rank).log")
            return try EngineProcess(arguments: arguments, environment: environment, directory: folder, logFile: log,
                                     spec: try spec.json())
        }
    }
}

/// The GPUs of a worker not in use by a running trial.
final class GPUPool: Sendable {
    private let free: Mutex<[Int]>

    init(_ gpus: [Int]) { free = Mutex(gpus) }

    /// `count` free GPUs, or nil while fewer are free.
    func acquire(_ count: Int) -> [Int]? {
        free.withLock { gpus in
            guard gpus.count >= count else { return nil }
            let taken = Array(gpus.prefix(count))
            gpus.removeFirst(count)
            return taken
        }
    }

    func release(_ gpus: [Int]) {
        free.withLock { $0.append(contentsOf: gpus) }
    }
}

/// The trial spec written to an engine's stdin (docs/ENGINES.md).
struct EngineSpec {
    struct Distributed {
        var rank: Int
        var worldSize: Int
        var initMethod: String
        var backend: String
        /// Seconds the members wait for each other at the rendezvous.
        var joinTimeout: Double
    }

    var configuration: TrialConfiguration
    var engine: EngineSettings
    var trial: Assignment
    var folder: URL
    var resumeFrom: URL?
    /// Weights to start from instead of a random initialisation.
    var initFrom: URL? = nil
    var device: TorchWorkerOptions.Device
    var threads: Int
    var distributed: Distributed?
    /// How often the engine reports progress (default: a tenth of the engine timeout, 1…10 s).
    var progressSeconds: Double? = nil

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let settings = try JSONSerialization.jsonObject(with: encoder.encode(configuration.settings))
        let parameters = (try? JSONSerialization.jsonObject(with: Data(configuration.parameters.utf8))) ?? [:]
        var spec: [String: Any] = [
            "contract": EngineEvent.contractVersion,
            "trial": ["id": trial.trialID, "attempt": trial.attempt, "fold": configuration.fold, "parameters": parameters],
            "settings": settings,
            "data": ["cache": configuration.data.cache.map { $0 as Any } ?? NSNull(), "root": configuration.data.root,
                     "reference_quirks": configuration.data.referenceQuirks],
            "run_dir": folder.path,
            "resume_from": resumeFrom?.path ?? NSNull(),
            "init_from": initFrom?.path ?? NSNull(),
            "device": device.rawValue,
            "options": ["precision": engine.precision, "channels_last": engine.channelsLast,
                        "cudnn_benchmark": engine.cudnnBenchmark, "compile": engine.compile, "threads": threads,
                        "prefetch": 4],
            "progress_seconds": progressSeconds ?? min(10, max(1, engine.timeoutSeconds / 10)),
        ]
        if let distributed {
            spec["distributed"] = ["rank": distributed.rank, "world_size": distributed.worldSize,
                                   "init_method": distributed.initMethod, "backend": distributed.backend,
                                   "join_timeout_seconds": distributed.joinTimeout]
        } else {
            spec["distributed"] = NSNull()
        }
        return try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys])
    }
}

/// The run folder of a torch attempt, written through the Swift trainer's `RunFolder`: the engine's checkpoints
/// become its `resume.safetensors` and `best.safetensors`, so either engine can continue the trial.
struct RunFiles {
    let folder: RunFolder
    let settings: TrainingSettings

    /// Begins the attempt's run: fresh, or continuing from the `resume.safetensors` already unpacked into it (which
    /// must have been written with these settings, or — for a gang — with a proportionally rescaled batch); returns
    /// the epochs trained so far.
    static func begin(_ directory: URL, settings: TrainingSettings, resuming: Bool, acceptRescaledBatch: Bool) throws
        -> (files: RunFiles, history: [EpochReport]) {
        let folder = try RunFolder(directory: directory)
        guard resuming else {
            try folder.start(settings: settings)
            return (RunFiles(folder: folder, settings: settings), [])
        }
        let state = try folder.loadResumeState(settings: settings, acceptRescaledBatch: acceptRescaledBatch)
        return (RunFiles(folder: folder, settings: settings), state.history)
    }

    /// Records an epoch: its metrics line, the engine's checkpoint as the resume (and best) checkpoint, and the
    /// resume bundle for the coordinator (not after the last epoch, which ends with the result).
    func store(epoch: EpochReport, isBest: Bool, checkpoint: String?, history: [EpochReport]) throws -> CheckpointFile? {
        try folder.appendMetrics(epoch)
        guard let checkpoint else { return nil }
        let engineFile = checkpoint.hasPrefix("/") ? URL(fileURLWithPath: checkpoint) : folder.directory.appendingPathComponent(checkpoint)
        var written: SafetensorsFile
        do {
            written = try SafetensorsFile.read(contentsOf: engineFile)
        } catch {
            throw TrainingError.resume("the engine's checkpoint of epoch \(epoch.epoch) cannot be read: \(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let model = String(decoding: try encoder.encode(settings.model), as: UTF8.self)
        // SCN's relabelled labels, when the engine wrote them, travel on in the resume checkpoint.
        written.metadata = [ModelConfiguration.metadataKey: model, RunFolder.labelsMetadataKey: written.metadata[RunFolder.labelsMetadataKey]]
            .compactMapValues { $0 }
        try folder.saveResume(written, history: history, settings: settings)
        if isBest {
            try folder.saveBest(SafetensorsFile(tensors: written.tensors.filter { !$0.key.hasPrefix("optimizer.") },
                                                integerTensors: written.integerTensors,
                                                metadata: ["epoch": "\(epoch.epoch)", ModelConfiguration.metadataKey: model]))
        }
        try? FileManager.default.removeItem(at: engineFile)
        return epoch.epoch < settings.epochs ? try ResumeBundle.write(runFolder: folder.directory, epoch: epoch.epoch) : nil
    }

    /// The RESULT of a completed attempt: the best epoch's scores and its checkpoint (none when the engine
    /// writes no checkpoints).
    func outcome(best: EpochReport) throws -> TrialOutcome {
        var size = 0, sha = ""
        var file: URL?
        if FileManager.default.fileExists(atPath: folder.bestFile.path) {
            let bytes = try Data(contentsOf: folder.bestFile)
            var digest = SHA256()
            digest.update(bytes)
            size = bytes.count
            sha = digest.hexDigest()
            file = folder.bestFile
        }
        return .completed(TrialScores(bestEpoch: best.epoch, uar: best.uar, war: best.war,
                                      perClassRecall: best.recall.map { $0 ?? 0 }, confusion: best.confusion,
                                      checkpointSHA256: sha, checkpointSize: size, checkpointFile: file))
    }
}

/// A TCP port on `host` (an IPv4 address) that nothing listens on right now, for a torch.distributed rendezvous.
func freePort(on host: String) throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw EngineError.option("cannot open a socket to find a free port for torch.distributed") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(host)
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else {
        throw EngineError.option("cannot bind a port on \(host) for the torch.distributed rendezvous; give --ring-bind an IPv4 address of this machine that the other workers reach")
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

