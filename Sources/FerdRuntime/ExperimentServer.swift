import FerdCluster
import FerdCollective
import FerdExperiment
import FerdLeaderboard
import FerdZeroMQ
import Foundation
import Logging

/// Serves one experiment as `ferd coordinator` and `ferd demo` do: plans it into the leaderboard, starts the
/// gradient hub when its trials are data-parallel, runs the `Coordinator` until every trial is final (or until
/// stopped) and sums up. The command line only parses options and shows progress.
public struct ExperimentServer {
    /// Where and how to serve.
    public struct Options {
        public var definition: ExperimentDefinition
        public var data: DataSource
        /// The leaderboard database file.
        public var database: String
        /// The coordinator's ZeroMQ endpoint to bind ("tcp://127.0.0.1:*" picks a free port).
        public var endpoint: String
        /// A folder with coordinator.key/.pub and workers/*.pub; nil: no CURVE.
        public var keys: String?
        /// Allow non-loopback binds without keys.
        public var insecure: Bool
        /// Return once every trial is final (otherwise serve until stopped).
        public var untilFinished: Bool
        /// Start a new experiment even when the same file was submitted before.
        public var forceNew: Bool
        /// Folder for best checkpoints (default: artifacts/ beside the database).
        public var artifacts: String?
        public var heartbeat: Double
        /// The gradient hub's endpoint (default: the control endpoint's host, a free port).
        public var gradientBind: String?

        public init(definition: ExperimentDefinition, data: DataSource, database: String, endpoint: String, keys: String? = nil,
                    insecure: Bool = false, untilFinished: Bool = true, forceNew: Bool = false, artifacts: String? = nil,
                    heartbeat: Double = 1, gradientBind: String? = nil) {
            self.definition = definition
            self.data = data
            self.database = database
            self.endpoint = endpoint
            self.keys = keys
            self.insecure = insecure
            self.untilFinished = untilFinished
            self.forceNew = forceNew
            self.artifacts = artifacts
            self.heartbeat = heartbeat
            self.gradientBind = gradientBind
        }
    }

    /// How the experiment stands when serving ends.
    public struct Summary: Sendable, Equatable {
        public var done: Int
        public var failed: Int
        public var total: Int
    }

    public let options: Options
    public let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Plans the experiment (`planned` sees the plan before any trial is served), serves it until it is complete or
    /// `stop` fires (`bound` gets the endpoint workers connect to) and returns the trial counts.
    public func run(until stop: StopSignal, planned: (ExperimentLauncher.Plan) -> Void = { _ in },
                    bound: (String) -> Void = { _ in }) throws -> Summary {
        let definition = options.definition
        let leaderboard = try Leaderboard(path: options.database, logger: logger)
        let plan = try ExperimentLauncher.plan(definition, leaderboard: leaderboard, data: options.data, forceNew: options.forceNew)
        planned(plan)
        let curve = try options.keys.map { folder throws -> CurveServerKeys in
            let directory = URL(fileURLWithPath: folder)
            return CurveServerKeys(keyPair: try KeyFiles.load(name: "coordinator", in: directory),
                                   allowListDirectory: directory.appendingPathComponent("workers"))
        }
        let artifactsRoot = options.artifacts.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: options.database).deletingLastPathComponent().appendingPathComponent("artifacts")
        let artifactsDirectory = artifactsRoot.appendingPathComponent("\(definition.name)-\(plan.experiment.id)")
        try FileManager.default.createDirectory(at: artifactsDirectory, withIntermediateDirectories: true)
        let plane = try definition.workersPerTrial > 1
            ? Self.startGradientHub(options.gradientBind ?? Self.gradientEndpoint(beside: options.endpoint),
                                    curve: curve, insecure: options.insecure, logger: logger)
            : nil
        defer { plane?.stop() }
        let hub = plane?.hub
        var configuration = Coordinator.Configuration(
            endpoint: options.endpoint,
            scheduler: Scheduler.Configuration(heartbeatInterval: options.heartbeat, maxAttempts: definition.retries,
                                               gangFormationTimeout: definition.gangWait,
                                               gradientHubEndpoint: hub.map { Self.advertised($0.boundEndpoint) },
                                               stopping: Self.stopping(definition.policy.stopping),
                                               budget: Self.budget(definition.policy.budget, experiment: plan.experiment),
                                               maxConcurrent: definition.policy.maxConcurrent),
            curve: curve, insecure: options.insecure, tickInterval: min(0.25, options.heartbeat / 2),
            artifactsDirectory: artifactsDirectory)
        if let hub {
            configuration.droppedMessageSources = [.init(endpoint: "gradient hub", takeCounts: hub.takeDroppedCounts)]
        }
        let coordinator = Coordinator(configuration: configuration, leaderboard: leaderboard, logger: logger)
        try coordinator.run(trials: plan.trials, restoring: plan.restore, until: stop, untilFinished: options.untilFinished,
                            bound: bound)
        let trials = try leaderboard.trials(experimentID: plan.experiment.id)
        return Summary(done: trials.filter { $0.state == .done }.count, failed: trials.filter { $0.state == .failed }.count,
                       total: trials.count)
    }

    /// The scheduler's early-stopping rule for the experiment file's `stopping:`.
    static func stopping(_ settings: SweepPolicy.Stopping?) -> EarlyStopping.Configuration? {
        settings.map { settings in
            EarlyStopping.Configuration(rule: EarlyStopping.Rule(rawValue: settings.rule) ?? .median,
                                        minEpochs: settings.minEpochs, grace: settings.grace,
                                        reductionFactor: settings.reductionFactor,
                                        metric: EarlyStopping.Metric(rawValue: settings.metric) ?? .uar)
        }
    }

    /// The scheduler's budget for the experiment file's `budget:`; wall-clock hours count from the experiment's
    /// creation.
    static func budget(_ budget: SweepPolicy.Budget?, experiment: Experiment) -> Scheduler.Budget? {
        switch budget {
        case let .epochs(count): .epochs(count)
        case let .trialHours(hours): .trialSeconds(hours * 3600)
        case let .wallHours(hours): .wallSeconds(hours * 3600, startedAt: experiment.created.timeIntervalSince1970)
        case nil: nil
        }
    }

    /// The gradient hub's default endpoint: the control endpoint's host with a free port.
    static func gradientEndpoint(beside endpoint: String) -> String {
        guard let colon = endpoint.lastIndex(of: ":") else { return "tcp://127.0.0.1:*" }
        return String(endpoint[..<colon]) + ":*"
    }

    /// Binds the gradient hub of data-parallel trials; like the control endpoint, a non-loopback address needs
    /// `insecure` (the gradient plane is not encrypted).
    static func startGradientHub(_ endpoint: String, curve: CurveServerKeys?, insecure: Bool,
                                 logger: Logger) throws -> GradientPlane {
        do {
            try BindPolicy.check(endpoint: endpoint, hasKeys: curve != nil, insecure: insecure)
        } catch {
            throw ServerError("the gradient hub: \(error) (give the coordinator --keys to encrypt gradients with CURVE, or "
                              + "--insecure on a trusted network)")
        }
        let context = try ZMQContext()
        let zap = try curve.map { keys throws(ZMQError) in
            try ZAPHandler(context: context, allowListDirectory: keys.allowListDirectory, logger: logger)
        }
        let hub = try GradientHub(endpoint: endpoint, context: context, logger: logger,
                                  curveSecretKey: curve?.keyPair.secretKey)
        logger.info("gradient hub listening", metadata: ["endpoint": "\(hub.boundEndpoint)", "curve": "\(curve != nil)"])
        return GradientPlane(hub: hub, zap: zap)
    }

    /// The gradient hub and, with keys, the ZAP handler on its context that admits only allow-listed workers.
    struct GradientPlane {
        let hub: GradientHub
        let zap: ZAPHandler?

        func stop() {
            hub.stop()
            zap?.stop()
        }
    }

    /// The endpoint workers should dial: a wildcard host is replaced by this machine's name.
    static func advertised(_ endpoint: String) -> String {
        for wildcard in ["tcp://0.0.0.0:", "tcp://*:"] where endpoint.hasPrefix(wildcard) {
            return "tcp://\(ProcessInfo.processInfo.hostName):" + endpoint.dropFirst(wildcard.count)
        }
        return endpoint
    }
}

/// Why an experiment cannot be served, with the fix.
public struct ServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
