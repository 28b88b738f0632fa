import FerdTensor

/// The named tensors of a model in PyTorch `state_dict` order: trainable parameters, float buffers
/// (BatchNorm running statistics) and integer buffers (`num_batches_tracked`).
public final class ParameterStore {
    /// What a named entry is.
    public enum Role: Sendable { case parameter, buffer }

    public private(set) var names: [String] = []
    public private(set) var tensors: [String: Tensor] = [:]
    public private(set) var roles: [String: Role] = [:]
    /// Integer buffers by name (kept in ``names`` order too).
    public var counters: [String: Int64] = [:]

    public init() {}

    /// The trainable parameters, in order.
    public var parameters: [Tensor] { names.compactMap { roles[$0] == .parameter ? tensors[$0] : nil } }

    /// The number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    func add(_ name: String, _ tensor: Tensor, role: Role) -> Tensor {
        precondition(tensors[name] == nil, "parameter \(name) registered twice")
        names.append(name)
        tensors[name] = tensor
        roles[name] = role
        return tensor
    }

    func addCounter(_ name: String) {
        names.append(name)
        counters[name] = 0
    }

    /// The state as safetensors entries: float32 tensors and int64 counters, with `metadata`.
    public func stateDictionary(metadata: [String: String] = [:]) -> SafetensorsFile {
        var floats: [String: StoredTensor] = [:]
        var integers: [String: StoredIntegerTensor] = [:]
        for (name, tensor) in tensors { floats[name] = StoredTensor(shape: tensor.shape, values: tensor.data) }
        for (name, counter) in counters { integers[name] = StoredIntegerTensor(shape: [], values: [counter]) }
        return SafetensorsFile(tensors: floats, integerTensors: integers, metadata: metadata)
    }

    /// Loads every entry from `file`. A leading `module.` (DataParallel) is stripped. Unknown, missing
    /// or wrongly shaped keys are one error listing all of them; nothing is changed then.
    public func load(_ file: SafetensorsFile) throws(ModelError) {
        func strip(_ key: String) -> String { key.hasPrefix("module.") ? String(key.dropFirst(7)) : key }
        var floats: [String: StoredTensor] = [:]
        var integers: [String: StoredIntegerTensor] = [:]
        for (key, value) in file.tensors { floats[strip(key)] = value }
        for (key, value) in file.integerTensors { integers[strip(key)] = value }
        let known = Set(names)
        var problems: [String] = []
        let unknown = (Array(floats.keys) + Array(integers.keys)).filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty { problems.append("unknown keys: \(unknown.joined(separator: ", "))") }
        var missing: [String] = []
        var misshapen: [String] = []
        for name in names {
            if let tensor = tensors[name] {
                if let stored = floats[name] {
                    if stored.shape != tensor.shape {
                        misshapen.append("\(name) has shape \(stored.shape), the model needs \(tensor.shape)")
                    }
                } else if integers[name] != nil {
                    misshapen.append("\(name) is an integer tensor, the model needs float32 \(tensor.shape)")
                } else {
                    missing.append(name)
                }
            } else if integers[name] == nil && floats[name] == nil {
                missing.append(name)
            }
        }
        if !missing.isEmpty { problems.append("missing keys: \(missing.joined(separator: ", "))") }
        if !misshapen.isEmpty { problems.append("wrong shapes: \(misshapen.joined(separator: "; "))") }
        guard problems.isEmpty else {
            throw ModelError.checkpoint(problems.joined(separator: "\n") +
                "\nThe checkpoint was made for another model configuration (check --preset, --attention and --r) or is not a GCA+IAL state_dict.")
        }
        for name in names {
            if let tensor = tensors[name] {
                tensor.data = floats[name]!.values
            } else if let stored = integers[name] {
                counters[name] = stored.values.first ?? 0
            } else if let stored = floats[name] {
                counters[name] = Int64(stored.values.first ?? 0)
            }
        }
    }
}

/// Registers a model's tensors under dotted names while its layers are built, drawing initial
/// values from one seeded stream in registration order.
final class ParameterBuilder {
    let store: ParameterStore
    let prefix: String
    private let random: RandomStream

    init(store: ParameterStore, seed: UInt64) {
        self.store = store
        self.prefix = ""
        self.random = RandomStream(seed: seed)
    }

    private init(store: ParameterStore, prefix: String, random: RandomStream) {
        self.store = store
        self.prefix = prefix
        self.random = random
    }

    /// A builder whose names are prefixed by `name.`.
    func scope(_ name: String) -> ParameterBuilder {
        ParameterBuilder(store: store, prefix: prefix + name + ".", random: random)
    }

    func normal(_ name: String, _ shape: [Int], std: Float) -> Tensor {
        store.add(prefix + name, Tensor.normal(shape: shape, std: std, requiresGrad: true, using: &random.generator), role: .parameter)
    }

    func uniform(_ name: String, _ shape: [Int], bound: Float) -> Tensor {
        store.add(prefix + name, Tensor.uniform(shape: shape, bound: bound, requiresGrad: true, using: &random.generator), role: .parameter)
    }

    func constant(_ name: String, _ shape: [Int], value: Float) -> Tensor {
        store.add(prefix + name, Tensor(repeating: value, shape: shape, requiresGrad: true), role: .parameter)
    }

    func buffer(_ name: String, _ shape: [Int], value: Float) -> Tensor {
        store.add(prefix + name, Tensor(repeating: value, shape: shape), role: .buffer)
    }

    func counter(_ name: String) {
        store.addCounter(prefix + name)
    }
}

/// The random stream shared by the scopes of one ``ParameterBuilder``.
private final class RandomStream {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
}
