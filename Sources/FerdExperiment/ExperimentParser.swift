import FerdData
import FerdModels
import Foundation
import Yams

extension ExperimentDefinition {
    /// The top-level keys of an experiment file.
    static let topLevelKeys = ["name", "data", "folds", "seeds", "retries", "trial_time_limit", "workers_per_trial",
                               "min_workers", "gang_wait", "reduction", "gradient_precision", "bucket_mb", "engine", "torch",
                               "engine_timeout", "stopping", "budget", "max_concurrent", "grid", "search", "samples", "search_seed", "init"]
    /// The words `search:` takes.
    static let searchNames = ["grid", "random", "sobol"]
    /// The most points `samples:` may ask for.
    static let maximumSamples = 1_000_000

    /// Reads an experiment from YAML text. Unknown keys, wrong types and empty grids are errors that
    /// name the key and its line.
    public static func parse(_ text: String, fileName: String = "experiment") throws(ExperimentError) -> ExperimentDefinition {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ExperimentError.invalid("\(fileName) is empty", line: nil) }
            root = node
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw .invalid("\(fileName) is not valid YAML: \(error)", line: nil)
        }
        guard let mapping = root.mapping else { throw .invalid("\(fileName) must be a mapping of keys to values", line: line(root)) }
        var seen: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw .invalid("keys must be words", line: line(key)) }
            guard topLevelKeys.contains(name) else {
                throw .invalid("unknown key '\(name)'; the keys are \(topLevelKeys.joined(separator: ", "))", line: line(key))
            }
            seen[name] = value
        }
        guard let name = seen["name"]?.string, !name.isEmpty else {
            throw .invalid("'name' is missing; give the experiment a name", line: seen["name"].map(line) ?? nil)
        }
        let (path, layout) = try parseData(seen["data"])
        let folds = try parseFolds(seen["folds"], dataset: layout ?? (try? DatasetLayout.detect(root: path)))
        let seeds = try seen["seeds"].map { node throws(ExperimentError) in try integer(node, "seeds", minimum: 1) } ?? 1
        let retries = try seen["retries"].map { node throws(ExperimentError) in try integer(node, "retries", minimum: 1) } ?? 3
        let gang = try seen["workers_per_trial"].map { node throws(ExperimentError) in try integer(node, "workers_per_trial", minimum: 1) } ?? 1
        let minWorkers = try seen["min_workers"].map { node throws(ExperimentError) in
            let value = try integer(node, "min_workers", minimum: 1)
            guard value <= gang else {
                throw .invalid("'min_workers' (\(value)) must not exceed workers_per_trial (\(gang))", line: line(node))
            }
            return value
        } ?? gang
        let reduction = try seen["reduction"].map { node throws(ExperimentError) in
            try word(node, "reduction", among: ExperimentDefinition.reductions)
        } ?? "star"
        let precision = try seen["gradient_precision"].map { node throws(ExperimentError) in
            try word(node, "gradient_precision", among: ExperimentDefinition.gradientPrecisions)
        } ?? "fp32"
        let bucket = try seen["bucket_mb"].map { node throws(ExperimentError) in try integer(node, "bucket_mb", minimum: 1) } ?? 25
        let limit = try seen["trial_time_limit"].map { node throws(ExperimentError) in try parseDuration(node, "trial_time_limit") }
        let gangWait = try seen["gang_wait"].map { node throws(ExperimentError) in try parseDuration(node, "gang_wait") } ?? 60
        var engine = try parseEngine(seen["engine"], options: seen["torch"])
        if let timeout = seen["engine_timeout"] {
            engine.timeoutSeconds = try parseDuration(timeout, "engine_timeout")
        }
        if gang > 1 {
            // Every member of a gang runs the same engine; an experiment that names none trains its gangs in Swift.
            switch engine.choice {
            case .any: engine.choice = .swift
            case .swift, .torch: break
            case .command:
                throw .invalid("workers_per_trial \(gang) cannot be used with engine: {command: ...}; a custom engine trains on one worker",
                               line: seen["workers_per_trial"].map(line) ?? nil)
            }
            if engine.gpusPerTrial > 1 {
                throw .invalid("use either workers_per_trial (one GPU on each of several workers) or torch.gpus_per_trial (several GPUs of one worker), not both",
                               line: seen["workers_per_trial"].map(line) ?? nil)
            }
        }
        let policy = SweepPolicy(stopping: try seen["stopping"].map(SweepPolicy.parseStopping),
                                 budget: try seen["budget"].map(SweepPolicy.parseBudget),
                                 maxConcurrent: try seen["max_concurrent"].map(SweepPolicy.parseMaxConcurrent))
        guard let gridNode = seen["grid"] else { throw .invalid("'grid' is missing; list the hyper-parameters to sweep", line: nil) }
        let search = try SearchSpace(strategy: parseStrategy(seen), dimensions: parseGrid(gridNode))
        try checkMethodParameters(search.dimensions)
        let initWeights = try seen["init"].map { node throws(ExperimentError) in
            guard let path = node.string, path.hasSuffix(".safetensors") else {
                throw .invalid("'init' must be the path of a .safetensors file the workers can read, got \(node.string ?? "a list or mapping")",
                               line: line(node))
            }
            return path
        }
        let definition = ExperimentDefinition(name: name, dataPath: path, layout: layout, folds: folds, seeds: seeds,
                                              retries: retries, trialTimeLimit: limit, workersPerTrial: gang,
                                              dataParallel: DataParallelSettings(minWorkers: minWorkers, reduction: reduction,
                                                                                 gradientPrecision: precision, bucketMegabytes: bucket),
                                              gangWait: gangWait, engine: engine, policy: policy,
                                              search: search, initWeights: initWeights, source: text)
        try definition.checkRanges()
        _ = try definition.trials()
        return definition
    }

    /// A method-specific key (``methodParameters``) must apply to at least one method the grid lists.
    private static func checkMethodParameters(_ dimensions: [SearchDimension]) throws(ExperimentError) {
        let listed = dimensions.first { $0.name == "method" }?.domain.checkedValues() ?? [.word(ModelMethod.gcaIAL.rawValue)]
        let methods = Set(listed.compactMap { value -> ModelMethod? in
            if case .word(let name) = value { return ModelMethod(rawValue: name) }
            return nil
        })
        for dimension in dimensions {
            guard let applies = methodParameters[dimension.name], applies.isDisjoint(with: methods) else { continue }
            let names = applies.map(\.rawValue).sorted().joined(separator: ", ")
            throw .invalid("grid.\(dimension.name) applies to method \(names), which grid.method does not list "
                           + "(\(methods.map(\.rawValue).sorted().joined(separator: ", "))); remove it or add method: \(names)",
                           line: dimension.line)
        }
    }

    private static func line(_ node: Node) -> Int? {
        node.mark.map { $0.line }
    }

    static func word(_ node: Node, _ key: String, among choices: [String]) throws(ExperimentError) -> String {
        guard let value = node.string, choices.contains(value) else {
            throw .invalid("'\(key)' must be one of \(choices.joined(separator: ", ")), got \(node.string ?? "a list or mapping")",
                           line: line(node))
        }
        return value
    }

    static func integer(_ node: Node, _ key: String, minimum: Int) throws(ExperimentError) -> Int {
        guard let value = node.int, value >= minimum else {
            throw .invalid("'\(key)' must be a whole number ≥ \(minimum), got \(node.string ?? "a list or mapping")", line: line(node))
        }
        return value
    }

    private static func parseData(_ node: Node?) throws(ExperimentError) -> (String, DatasetLayout?) {
        guard let node else { throw .invalid("'data' is missing; give data: {path: DIR}", line: nil) }
        guard let mapping = node.mapping else { throw .invalid("'data' must be a mapping with 'path' and optional 'layout'", line: line(node)) }
        var path: String?
        var layout: DatasetLayout?
        for (key, value) in mapping {
            switch key.string {
            case "path":
                path = value.string
            case "layout":
                if value.string != "auto" {
                    guard let parsed = value.string.flatMap(DatasetLayout.init(rawValue:)) else {
                        throw .invalid("data.layout '\(value.string ?? "")' is not known; use auto, \(DatasetLayout.allCases.map(\.rawValue).joined(separator: ", "))", line: line(value))
                    }
                    layout = parsed
                }
            default:
                throw .invalid("unknown key 'data.\(key.string ?? "?")'; data takes path and layout", line: line(key))
            }
        }
        guard let path, !path.isEmpty else { throw .invalid("data.path is missing", line: line(node)) }
        return (path, layout)
    }

    /// `engine: any|swift|torch` or `engine: {command: [program, args…]}`, with the torch engine's options
    /// from `torch: {precision, channels_last, cudnn_benchmark, compile, gpus_per_trial}`.
    private static func parseEngine(_ node: Node?, options: Node?) throws(ExperimentError) -> EngineSettings {
        var settings = EngineSettings()
        if let node {
            if let mapping = node.mapping {
                for (key, value) in mapping {
                    guard key.string == "command" else {
                        throw .invalid("unknown key 'engine.\(key.string ?? "?")'; a custom engine is engine: {command: [program, arguments…]}",
                                       line: line(key))
                    }
                    let parts = (value.sequence.map(Array.init) ?? []).compactMap(\.string)
                    guard !parts.isEmpty, parts.count == value.sequence?.count, !parts[0].isEmpty else {
                        throw .invalid("engine.command must be a non-empty list of words, e.g. [python3, train.py]", line: line(value))
                    }
                    settings.choice = .command
                    settings.command = parts
                }
                guard settings.choice == .command else {
                    throw .invalid("engine: {command: [...]} is missing its command", line: line(node))
                }
            } else {
                let names = EngineSettings.Choice.allCases.filter { $0 != .command }.map(\.rawValue)
                settings.choice = try EngineSettings.Choice(rawValue: word(node, "engine", among: names))!
            }
        }
        guard let options else { return settings }
        guard settings.choice != .swift else {
            throw .invalid("'torch' options do not apply to engine: swift; remove them or use engine: torch", line: line(options))
        }
        guard let mapping = options.mapping else {
            throw .invalid("'torch' must be a mapping of options (precision, channels_last, cudnn_benchmark, compile, gpus_per_trial)",
                           line: line(options))
        }
        for (key, value) in mapping {
            switch key.string {
            case "precision": settings.precision = try word(value, "torch.precision", among: EngineSettings.precisions)
            case "channels_last": settings.channelsLast = try flag(value, "torch.channels_last")
            case "cudnn_benchmark": settings.cudnnBenchmark = try flag(value, "torch.cudnn_benchmark")
            case "compile": settings.compile = try flag(value, "torch.compile")
            case "gpus_per_trial": settings.gpusPerTrial = try integer(value, "torch.gpus_per_trial", minimum: 1)
            default:
                throw .invalid("unknown key 'torch.\(key.string ?? "?")'; torch takes precision, channels_last, cudnn_benchmark, compile, gpus_per_trial",
                               line: line(key))
            }
        }
        return settings
    }

    private static func flag(_ node: Node, _ key: String) throws(ExperimentError) -> Bool {
        guard let value = node.bool else {
            throw .invalid("'\(key)' must be true or false, got \(node.string ?? "a list or mapping")", line: line(node))
        }
        return value
    }

    /// The `folds:` list, or every fold of the dataset; a single-split dataset (FERV39k, RAF-DB: the named layout,
    /// or the detected one when the data path is readable here) has fold 1 only.
    private static func parseFolds(_ node: Node?, dataset: DatasetLayout?) throws(ExperimentError) -> [Int] {
        guard let node else { return dataset?.folds ?? [1, 2, 3, 4, 5] }
        let folds = try parseFolds(node)
        if let dataset, let fold = folds.first(where: { !dataset.folds.contains($0) }) {
            throw .invalid("fold \(fold) does not exist: \(dataset.datasetName) has one train/test split, fold 1; set folds: [1] or leave folds out",
                           line: line(node))
        }
        return folds
    }

    private static func parseFolds(_ node: Node) throws(ExperimentError) -> [Int] {
        let values = node.sequence.map(Array.init) ?? [node]
        var folds: [Int] = []
        for value in values {
            guard let fold = value.int, (1...5).contains(fold) else {
                throw .invalid("folds must be numbers from 1 to 5, got \(value.string ?? "?")", line: line(value))
            }
            guard !folds.contains(fold) else { throw .invalid("fold \(fold) is listed twice", line: line(value)) }
            folds.append(fold)
        }
        guard !folds.isEmpty else { throw .invalid("folds is empty; list at least one fold", line: line(node)) }
        return folds
    }

    /// Seconds from `90`, `90s`, `30m` or `2h`.
    private static func parseDuration(_ node: Node, _ key: String) throws(ExperimentError) -> Double {
        let text = node.string ?? ""
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        let unit = text.last.flatMap { units[$0] }
        guard let value = Double(unit == nil ? text : String(text.dropLast())), value > 0 else {
            throw .invalid("\(key) must be a duration like 90s, 30m or 2h, got '\(text)'", line: line(node))
        }
        return value * (unit ?? 1)
    }

    /// `search: grid|random|sobol` (default grid), `samples: N` (random and sobol only, required there) and
    /// `search_seed: S` (random only, default 0).
    private static func parseStrategy(_ seen: [String: Node]) throws(ExperimentError) -> SearchStrategy {
        let name = try seen["search"].map { node throws(ExperimentError) in try word(node, "search", among: searchNames) } ?? "grid"
        let samples = try seen["samples"].map { node throws(ExperimentError) in
            let value = try integer(node, "samples", minimum: 1)
            guard value <= maximumSamples else {
                throw .invalid("'samples' is \(value); draw at most \(maximumSamples) points", line: line(node))
            }
            return value
        }
        let seed = try seen["search_seed"].map { node throws(ExperimentError) in UInt64(try integer(node, "search_seed", minimum: 0)) }
        if name != "random", let node = seen["search_seed"] {
            throw .invalid("'search_seed' applies to search: random only (\(name) points are fixed by the file); remove it or set search: random",
                           line: line(node))
        }
        switch name {
        case "random", "sobol":
            guard let samples else {
                throw .invalid("'samples' is missing; search: \(name) draws samples: N points (e.g. samples: 16)",
                               line: seen["search"].map(line) ?? nil)
            }
            return name == "random" ? .random(samples: samples, seed: seed ?? 0) : .sobol(samples: samples)
        default:
            if let node = seen["samples"] {
                throw .invalid("'samples' applies to search: random or sobol; a grid runs every combination, so remove samples "
                               + "or set search: random or search: sobol", line: line(node))
            }
            return .grid
        }
    }

    /// `grid:`: each parameter's value, list of values or range (`{uniform|loguniform|int: [low, high]}`,
    /// `{choice: [a, b, …]}`), with its line.
    private static func parseGrid(_ node: Node) throws(ExperimentError) -> [SearchDimension] {
        guard let mapping = node.mapping else {
            throw .invalid("'grid' must map parameter names to a value, a list or a range", line: line(node))
        }
        let known = parameterDefaults.map(\.key)
        var grid: [SearchDimension] = []
        for (key, value) in mapping {
            guard let name = key.string, let defaultValue = parameterDefaults.first(where: { $0.key == name })?.value else {
                throw .invalid("unknown grid parameter '\(key.string ?? "?")'; the parameters are \(known.joined(separator: ", "))", line: line(key))
            }
            guard !grid.contains(where: { $0.name == name }) else { throw .invalid("grid.\(name) is given twice", line: line(key)) }
            let domain: ParameterDomain
            if let range = value.mapping {
                domain = try parseRange(range, name: name, defaultValue: defaultValue, line: line(value))
            } else {
                let items = value.sequence.map(Array.init) ?? [value]
                guard !items.isEmpty else { throw .invalid("grid.\(name) is an empty list; give at least one value", line: line(value)) }
                domain = .values(try items.map { item throws(ExperimentError) in try parameterValue(item, name: name, like: defaultValue) })
            }
            grid.append(SearchDimension(name: name, domain: domain, line: line(key)))
        }
        return grid
    }

    /// Parameters whose values are whole numbers: a uniform or loguniform range would draw fractions.
    static let wholeNumberParameters: Set = ["r", "epochs", "batch", "lr_step", "frames_per_segment", "scn_relabel_epoch"]

    /// `{uniform: [low, high]}`, `{loguniform: [low, high]}`, `{int: [low, high]}` or `{choice: [a, b, …]}`.
    private static func parseRange(_ mapping: Node.Mapping, name: String, defaultValue: ParameterValue,
                                   line rangeLine: Int?) throws(ExperimentError) -> ParameterDomain {
        let forms = "{uniform: [low, high]}, {loguniform: [low, high]}, {int: [low, high]} or {choice: [a, b, …]}"
        guard mapping.count == 1, let (key, value) = mapping.first, let kind = key.string else {
            throw .invalid("grid.\(name) must be a value, a list or one range: \(forms)", line: rangeLine)
        }
        let items = value.sequence.map(Array.init) ?? []
        if kind == "choice" {
            guard value.sequence != nil else {
                throw .invalid("grid.\(name): choice takes a list, e.g. {choice: [a, b]}", line: line(value))
            }
            guard !items.isEmpty else { throw .invalid("grid.\(name): choice is empty; give at least one value", line: line(value)) }
            return .choice(try items.map { item throws(ExperimentError) in try parameterValue(item, name: name, like: defaultValue) })
        }
        guard ["uniform", "loguniform", "int"].contains(kind) else {
            throw .invalid("grid.\(name): unknown range '\(kind)'; use \(forms)", line: line(key))
        }
        guard case .number = defaultValue else {
            throw .invalid("grid.\(name) takes words; list them (\(name): [a, b]) or use {choice: [a, b]}", line: line(key))
        }
        let bounds = items.compactMap { item -> Double? in item.float.map { Double($0) } ?? item.int.map { Double($0) } }
        guard items.count == 2, bounds.count == 2, bounds.allSatisfy({ $0.isFinite }) else {
            throw .invalid("grid.\(name): \(kind) takes [low, high], two numbers, got \(value.string ?? "[\(items.map { $0.string ?? "?" }.joined(separator: ", "))]")",
                           line: line(value))
        }
        let (low, high) = (bounds[0], bounds[1])
        guard low < high else {
            throw .invalid("grid.\(name): \(kind)'s low (\(ParameterValue.number(low))) must be below its high (\(ParameterValue.number(high))); "
                           + "for one value write \(name): \(ParameterValue.number(low))", line: line(value))
        }
        switch kind {
        case "int":
            guard bounds.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e15 }) else {
                throw .invalid("grid.\(name): int takes whole numbers [low, high], got [\(ParameterValue.number(low)), \(ParameterValue.number(high))]; "
                               + "use uniform for fractions", line: line(value))
            }
            return .integer(low: Int(low), high: Int(high))
        case _ where wholeNumberParameters.contains(name):
            throw .invalid("grid.\(name) takes whole numbers; use {int: [low, high]} instead of \(kind)", line: line(key))
        case "loguniform":
            guard low > 0 else {
                throw .invalid("grid.\(name): loguniform needs low > 0 (it draws in log space), got \(ParameterValue.number(low)); "
                               + "use uniform for a range from 0 or below", line: line(value))
            }
            return .logUniform(low: low, high: high)
        default:
            return .uniform(low: low, high: high)
        }
    }

    /// One listed value of parameter `name`: a number or a word, as its default is.
    private static func parameterValue(_ item: Node, name: String, like defaultValue: ParameterValue) throws(ExperimentError) -> ParameterValue {
        switch defaultValue {
        case .number:
            guard let number = item.float.map({ Double($0) }) ?? item.int.map({ Double($0) }) else {
                throw .invalid("grid.\(name) takes numbers, got '\(item.string ?? "a list or mapping")'", line: line(item))
            }
            return .number(number)
        case .word:
            guard item.scalar != nil, let word = item.string, Double(word) == nil else {
                throw .invalid("grid.\(name) takes words, got '\(item.string ?? "a list or mapping")'", line: line(item))
            }
            return .word(word)
        }
    }
}
