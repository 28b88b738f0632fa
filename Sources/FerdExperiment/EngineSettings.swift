/// Which engine trains an experiment's trials, and the PyTorch engine's options (docs/ENGINES.md). Travels
/// to the worker inside the trial's configuration.
public struct EngineSettings: Sendable, Equatable, Codable {
    /// The engines an experiment may pin with `engine:`.
    public enum Choice: String, Sendable, Codable, CaseIterable {
        /// Any worker (a trial of a data-parallel experiment must name one).
        case any
        case swift
        case torch
        /// The experiment's own training program (`engine: {command: [...]}`), run by torch workers.
        case command
    }

    /// The precisions `torch.precision` may name.
    public static let precisions = ["fp32", "bf16", "fp16"]

    public var choice: Choice
    /// The program and its arguments, for `.command`.
    public var command: [String]
    /// `fp32`, `bf16` or `fp16` (autocast; fp16 with gradient scaling).
    public var precision: String
    public var channelsLast: Bool
    public var cudnnBenchmark: Bool
    /// `torch.compile` the model (torch ≥ 2).
    public var compile: Bool
    /// GPUs of one worker that train one trial together.
    public var gpusPerTrial: Int
    /// Seconds an engine may stay silent before the worker declares it hung.
    public var timeoutSeconds: Double

    public init(choice: Choice = .any, command: [String] = [], precision: String = "fp32", channelsLast: Bool = false,
                cudnnBenchmark: Bool = true, compile: Bool = false, gpusPerTrial: Int = 1, timeoutSeconds: Double = 600) {
        self.choice = choice
        self.command = command
        self.precision = precision
        self.channelsLast = channelsLast
        self.cudnnBenchmark = cudnnBenchmark
        self.compile = compile
        self.gpusPerTrial = gpusPerTrial
        self.timeoutSeconds = timeoutSeconds
    }

    /// True when only `--engine torch` workers can run the trials.
    public var needsTorch: Bool { choice == .torch || choice == .command }
}
