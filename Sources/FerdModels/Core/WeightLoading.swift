import FerdTensor

/// What ``ParameterStore/loadMatching(_:renaming:)`` did with a weights file.
public struct WeightLoadReport: Sendable, Equatable {
    /// Model entries that took the file's values, in the model's order.
    public var loaded: [String] = []
    /// File keys (after stripping `module.`) that name no model entry, sorted.
    public var unmatchedInFile: [String] = []
    /// Model entries the file gave no value for, in the model's order.
    public var missingInModel: [String] = []
    /// Entries present in both with different shapes (kept at their initial values), in the model's order.
    public var shapeMismatches: [String] = []

    /// One line per category with its count and up to `listed` names.
    public func summary(listed: Int = 8) -> String {
        func line(_ title: String, _ names: [String]) -> String {
            let shown = names.prefix(listed).joined(separator: ", ")
            return "\(title): \(names.count)" + (names.isEmpty ? "" : " (\(shown)\(names.count > listed ? ", …" : ""))")
        }
        return [line("loaded", loaded), line("unmatched in the file", unmatchedInFile),
                line("missing in the file", missingInModel), line("shape mismatches", shapeMismatches)]
            .joined(separator: "\n")
    }
}

extension ParameterStore {
    /// Copies into the model every float entry of `file` whose name and shape match one of the model's
    /// (parameters, buffers; integer counters too), leaving the rest as initialised. A leading `module.`
    /// is stripped; a key that names no model entry is tried again through `renaming` (for example from a
    /// torchvision ResNet's `conv1.weight` to the method's backbone name). Never throws: the report says
    /// what matched.
    public func loadMatching(_ file: SafetensorsFile, renaming: (String) -> String? = { _ in nil }) -> WeightLoadReport {
        func strip(_ key: String) -> String { key.hasPrefix("module.") ? String(key.dropFirst(7)) : key }
        let known = Set(names)
        var floats: [String: StoredTensor] = [:], integers: [String: StoredIntegerTensor] = [:]
        var report = WeightLoadReport()
        func target(_ key: String) -> String? {
            let key = strip(key)
            if known.contains(key) { return key }
            if let renamed = renaming(key), known.contains(renamed) { return renamed }
            report.unmatchedInFile.append(key)
            return nil
        }
        for (key, value) in file.tensors { if let name = target(key) { floats[name] = value } }
        for (key, value) in file.integerTensors { if let name = target(key) { integers[name] = value } }
        report.unmatchedInFile.sort()
        for name in names {
            if let tensor = tensors[name] {
                guard let stored = floats[name] else {
                    report.missingInModel.append(name)
                    continue
                }
                guard stored.shape == tensor.shape else {
                    report.shapeMismatches.append("\(name): file \(stored.shape), model \(tensor.shape)")
                    continue
                }
                tensor.data = stored.values
                report.loaded.append(name)
            } else if let stored = integers[name] {
                counters[name] = stored.values.first ?? 0
                report.loaded.append(name)
            } else {
                report.missingInModel.append(name)
            }
        }
        return report
    }
}

extension ExpressionModels {
    /// Starts `model` from the weights of `file` (a checkpoint of the same method, or a backbone such as a
    /// converted ImageNet or MS-Celeb torchvision ResNet-18): keys are taken as they are, else as
    /// torchvision ResNet keys renamed to the method's backbone (``backboneName(ofTorchvisionKey:method:)``).
    public static func initialise(_ model: any ExpressionModel, from file: SafetensorsFile) -> WeightLoadReport {
        let method = model.configuration.method
        return model.store.loadMatching(file) { backboneName(ofTorchvisionKey: $0, method: method) }
    }

    /// The name in `method`'s state of a torchvision ResNet key (`conv1.weight`, `layer3.1.bn2.bias`, …),
    /// or nil where the method has no such backbone (GCA+IAL's differs from torchvision's) or layer.
    public static func backboneName(ofTorchvisionKey key: String, method: ModelMethod) -> String? {
        switch method {
        case .gcaIAL: nil
        case .scn: ResNetNaming.sequential.name(ofTorchvisionKey: key).map { "features." + $0 }
        case .ran: ResNetNaming.torchvision.name(ofTorchvisionKey: key)
        case .formerDFER: ResNetNaming.torchvision.name(ofTorchvisionKey: key).map { "s_former." + $0 }
        case .stt: key.hasPrefix("layer4.") ? nil : ResNetNaming.torchvision.name(ofTorchvisionKey: key).map { "backbone." + $0 }
        }
    }
}
