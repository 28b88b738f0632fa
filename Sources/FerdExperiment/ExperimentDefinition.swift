import FerdData
import FerdDigest
import FerdModels
import FerdTensor
import FerdTraining
import Foundation
import Yams

/// One value of a hyper-parameter: a number or a word.
public enum ParameterValue: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case word(String)

    public var description: String {
        switch self {
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .word(let word): word
        }
    }
}

/// How the workers of a data-parallel trial exchange gradients, and how few of them may run it.
public struct DataParallelSettings: Sendable, Equatable, Codable {
    /// The fewest workers a gang may start with when not all arrive (the learning rate is then scaled).
    public var minWorkers: Int
    /// "star" (through the coordinator's gradient hub) or "ring" (among the members).
    public var reduction: String
    /// "fp32" or "fp16": what gradients travel as.
    public var gradientPrecision: String
    /// Gradient bucket size in MiB (sent while the backward pass still runs).
    public var bucketMegabytes: Int

    public init(minWorkers: Int, reduction: String = "star", gradientPrecision: String = "fp32", bucketMegabytes: Int = 25) {
        self.minWorkers = minWorkers
        self.reduction = reduction
        self.gradientPrecision = gradientPrecision
        self.bucketMegabytes = bucketMegabytes
    }
}

/// An experiment as written in a YAML file under Configs/: the dataset, the folds, and a search over
/// hyper-parameters (a grid, or random or Sobol samples of ranges). Expanding it gives one trial per
/// (grid point, seed, fold); every point, drawn or not, is called a grid point.
public struct ExperimentDefinition: Sendable, Equatable {
    /// The gradient reductions `reduction` may name.
    public static let reductions = ["star", "ring"]
    /// The wire precisions `gradient_precision` may name.
    public static let gradientPrecisions = ["fp32", "fp16"]

    /// The hyper-parameters a grid may set, with their type-giving defaults: GCA+IAL's reference settings and
    /// each method's published ones. The optimiser's keys (`lr`, `momentum`, `weight_decay`, `epochs`, `batch`,
    /// `schedule`, `lr_step`, `lr_gamma`, `frames_per_segment`) default to the point's method's recipe
    /// (``MethodRecipe``), not to the value listed here.
    public static let parameterDefaults: KeyValuePairs<String, ParameterValue> = [
        "method": .word("gca-ial"), "preset": .word("paper"), "attention": .word("gca"), "lambda": .number(0.1),
        "r": .number(16), "lr": .number(1e-3), "momentum": .number(0.9), "weight_decay": .number(0.1),
        "epochs": .number(80), "batch": .number(40), "schedule": .word("step"), "aux_weight": .number(0.05),
        "aux_heads": .word("true"), "lr_step": .number(7), "lr_gamma": .number(0.5), "frames_per_segment": .number(1),
        "scn_beta": .number(0.7), "scn_rank_margin": .number(0.15), "scn_relabel_margin": .number(0.2),
        "scn_relabel_epoch": .number(10), "ran_margin": .number(0.02), "ran_crops": .word("fixed"),
        "ran_recompute": .word("false"),
        "csce_lambda": .number(1), "stt_attention": .word("space-time"), "drop_path": .number(0.1),
    ]

    /// The grid keys that apply to some methods only; every other key applies to all. A point whose method a key
    /// does not apply to drops it (so `method: [gca-ial, scn]` × `scn_beta: [0.6, 0.7]` is 3 points, not 4);
    /// a key that applies to none of the grid's methods is an error.
    public static let methodParameters: [String: Set<ModelMethod>] = [
        "attention": [.gcaIAL], "lambda": [.gcaIAL], "r": [.gcaIAL], "aux_weight": [.gcaIAL], "aux_heads": [.gcaIAL],
        "scn_beta": [.scn], "scn_rank_margin": [.scn], "scn_relabel_margin": [.scn], "scn_relabel_epoch": [.scn],
        "ran_margin": [.ran], "ran_crops": [.ran], "ran_recompute": [.ran],
        "csce_lambda": [.stt], "stt_attention": [.stt], "drop_path": [.stt],
    ]

    public var name: String
    public var dataPath: String
    public var layout: DatasetLayout?
    public var folds: [Int]
    /// Trials per grid point and fold with different seeds.
    public var seeds: Int
    /// Attempts a trial may take before it is FAILED.
    public var retries: Int
    /// Seconds a trial may run before it is stopped and counted as failed (nil: no limit).
    public var trialTimeLimit: Double?
    /// Workers that train each trial together (data-parallel); 1: each trial on one worker.
    public var workersPerTrial: Int
    /// How a gang of `workersPerTrial` workers trains (docs/DATA-PARALLEL.md).
    public var dataParallel: DataParallelSettings
    /// Seconds a partial gang waits for its missing workers before it starts smaller (if `min_workers`
    /// allows) or lets its workers go (`gang_wait`, default 60 s).
    public var gangWait: Double
    /// Which engine trains the trials, and the torch engine's options (`engine:`, `torch:`, `engine_timeout:`).
    public var engine: EngineSettings = EngineSettings()
    /// Early stopping, budget and concurrency (`stopping:`, `budget:`, `max_concurrent:`).
    public var policy = SweepPolicy()
    /// The swept and fixed parameters in file order (a fixed parameter has one value) and how points are
    /// chosen from them (`grid:`, `search:`, `samples:`, `search_seed:`).
    public var search: SearchSpace
    /// `init:`: weights every trial starts from (a `.safetensors` file on the workers); keys the model does not
    /// have, and model parameters the file lacks, are logged and left as initialised.
    public var initWeights: String?
    /// The file's text, whose hash identifies the experiment.
    public var source: String

    public static func == (a: Self, b: Self) -> Bool { a.source == b.source && a.name == b.name }

    /// The experiment's identity: SHA-256 of its file text.
    public var contentHash: String {
        var hash = SHA256()
        hash.update(source.utf8)
        return hash.hexDigest()
    }

    /// The experiment's points: every combination of a grid (the last parameter varies fastest) or the random or
    /// Sobol samples in the order drawn; duplicates dropped.
    public var gridPoints: [[String: ParameterValue]] {
        var seen = Set<String>()
        return search.expand().points.map(Self.applicable).filter { seen.insert(Self.canonical($0)).inserted }
    }

    /// `point` without the keys that do not apply to its method (``methodParameters``).
    static func applicable(_ point: [String: ParameterValue]) -> [String: ParameterValue] {
        guard case .word(let name)? = point["method"], let method = ModelMethod(rawValue: name) else { return point }
        return point.filter { key, _ in methodParameters[key].map { $0.contains(method) } ?? true }
    }

    /// The trials of the experiment: grid point × seed × fold, each with a seed derived from
    /// (experiment, grid point, seed index, fold) so that re-running a trial reproduces it.
    public func trials() throws(ExperimentError) -> [PlannedTrial] {
        var result: [PlannedTrial] = []
        for (index, point) in gridPoints.enumerated() {
            for seedIndex in 0..<seeds {
                for fold in folds {
                    var hash = SHA256()
                    hash.update(field: contentHash)
                    hash.update(field: Self.canonical(point))
                    hash.update(field: "\(seedIndex)")
                    hash.update(field: "\(fold)")
                    let seed = UInt64(hash.hexDigest().prefix(16), radix: 16)!
                    let settings: TrainingSettings
                    do {
                        settings = try Self.settings(point, seed: seed)
                    } catch let .invalid(reason, _) {
                        let drawn = search.strategy == .grid ? ""
                            : " (drawn by search: \(search.strategy.name); ferd does not resample: narrow the ranges so that every combination of their values is valid)"
                        throw .invalid("grid point \(Self.canonical(point)): \(reason)\(drawn)", line: nil)
                    }
                    result.append(PlannedTrial(gridIndex: index, parameters: point, fold: fold, seedIndex: seedIndex,
                                               settings: settings))
                }
            }
        }
        return result
    }

    /// `{"a":1,"b":"gca"}` with sorted keys: how a grid point is stored and compared.
    public static func canonical(_ point: [String: ParameterValue]) -> String {
        "{" + point.keys.sorted().map { key in
            switch point[key]! {
            case .number(let value): "\"\(key)\":\(ParameterValue.number(value))"
            case .word(let word): "\"\(key)\":\"\(word)\""
            }
        }.joined(separator: ",") + "}"
    }

    /// Checks every value a random or Sobol search can draw for each varying parameter (all values of an int range
    /// or a choice, both ends of a uniform or loguniform range, rounded as drawn), with the other parameters at
    /// their first value, before any point is drawn: a range that can give an invalid value is an error naming its
    /// key and line. Points are never resampled, so that they depend on the file alone.
    func checkRanges() throws(ExperimentError) {
        guard search.strategy != .grid else { return }
        let base = Dictionary(uniqueKeysWithValues: search.dimensions.map { ($0.name, $0.domain.checkedValues()[0]) })
        for dimension in search.varying {
            var base = base
            if let applies = Self.methodParameters[dimension.name],
               let method = search.dimensions.first(where: { $0.name == "method" })?.domain.checkedValues().first(where: {
                   ModelMethod(rawValue: $0.description).map(applies.contains) ?? false
               }) {
                base["method"] = method
            }
            for value in dimension.domain.checkedValues() {
                do {
                    let point = Self.applicable(base.merging([dimension.name: value]) { _, new in new })
                    guard point[dimension.name] != nil else { continue }
                    _ = try Self.settings(point, seed: 0)
                } catch let .invalid(reason, _) {
                    throw .invalid("grid.\(dimension.name) can give \(value), which is not valid: \(reason); narrow the range or "
                                   + "list the valid values with {choice: [a, b, …]} (ferd does not resample invalid points)",
                                   line: dimension.line)
                }
            }
        }
    }

    /// The training settings of one grid point: its method's preset and recipe, with what the point sets.
    static func settings(_ point: [String: ParameterValue], seed: UInt64) throws(ExperimentError) -> TrainingSettings {
        func given(_ key: String) -> Double? {
            if case .number(let value)? = point[key] { return value }
            return nil
        }
        func number(_ key: String) -> Double {
            if let value = given(key) { return value }
            if case .number(let value)? = parameterDefaults.first(where: { $0.key == key })?.value { return value }
            return 0
        }
        func word(_ key: String) -> String {
            if case .word(let value)? = point[key] { return value }
            if case .word(let value)? = parameterDefaults.first(where: { $0.key == key })?.value { return value }
            return ""
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(ExperimentError) -> T where T.RawValue == String {
            guard let value = T(rawValue: word(key)) else {
                throw .invalid("\(key) '\(word(key))' is not known; use \(T.allCases.map(\.rawValue).joined(separator: ", "))", line: nil)
            }
            return value
        }
        func flag(_ key: String) throws(ExperimentError) -> Bool {
            guard let value = Bool(word(key)) else {
                throw .invalid("\(key) '\(word(key))' is not known; use true or false", line: nil)
            }
            return value
        }
        let method = try choice("method", ModelMethod.self)
        for key in point.keys.sorted() {
            if let methods = methodParameters[key], !methods.contains(method) {
                throw .invalid("\(key) applies to method \(methods.map(\.rawValue).sorted().joined(separator: ", ")), not \(method.rawValue); "
                               + "remove it or add that method to grid.method", line: nil)
            }
        }
        guard var model = ModelConfiguration.preset(named: word("preset"), method: method) else {
            throw .invalid("preset '\(word("preset"))' is not known for method \(method.rawValue); use paper or small", line: nil)
        }
        let recipe = MethodRecipe.of(method)
        var loss = LossWeights.reference
        var methodLoss = MethodLossSettings.defaults
        switch method {
        case .gcaIAL:
            model.attention = try choice("attention", AttentionKind.self)
            model.reduction = Int(number("r"))
            model.auxiliaryHeads = try flag("aux_heads")
            loss = LossWeights(intensityAware: Float(number("lambda")), auxiliary: [Float(number("aux_weight")), 0])
        case .scn:
            methodLoss.scn = SCNLossSettings(rankFraction: Float(number("scn_beta")), rankMargin: Float(number("scn_rank_margin")),
                                             relabelMargin: Float(number("scn_relabel_margin")),
                                             relabelEpoch: Int(number("scn_relabel_epoch")))
        case .ran:
            model.ranCrops = try choice("ran_crops", RANCropScheme.self)
            model.ranRecompute = try flag("ran_recompute")
            methodLoss.ran = RANLossSettings(margin: Float(number("ran_margin")))
        case .stt:
            model.sttAttention = try choice("stt_attention", STTAttention.self)
            model.dropPath = Float(number("drop_path"))
            methodLoss.stt = STTLossSettings(compactWeight: Float(number("csce_lambda")))
        case .formerDFER:
            break
        }
        do {
            return try recipe.settings(
                model: model, epochs: given("epochs").map { Int($0) }, batchSize: given("batch").map { Int($0) },
                learningRate: given("lr").map { Float($0) }, momentum: given("momentum").map { Float($0) },
                weightDecay: given("weight_decay").map { Float($0) }, schedule: point["schedule"].map(\.description),
                every: given("lr_step").map { Int($0) }, factor: given("lr_gamma").map { Float($0) },
                framesPerSegment: given("frames_per_segment").map { Int($0) }, loss: loss, methodLoss: methodLoss, seed: seed)
        } catch {
            throw .invalid("\(error)", line: nil)
        }
    }
}

/// One trial an experiment asks for.
public struct PlannedTrial: Sendable {
    public var gridIndex: Int
    public var parameters: [String: ParameterValue]
    public var fold: Int
    public var seedIndex: Int
    public var settings: TrainingSettings
}

/// A problem with an experiment file: what is wrong, on which line, and how to fix it.
public enum ExperimentError: Error, CustomStringConvertible, Equatable {
    case invalid(String, line: Int?)

    public var description: String {
        switch self {
        case let .invalid(text, line?): "line \(line): \(text)"
        case let .invalid(text, nil): text
        }
    }
}
