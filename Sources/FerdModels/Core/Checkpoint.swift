import FerdTensor
import Foundation

extension ExpressionModel {
    /// The model's state in the reference `state_dict` layout, with its configuration in the metadata
    /// (extra metadata, such as the epoch, is added alongside).
    public func checkpoint(metadata: [String: String] = [:]) -> SafetensorsFile {
        var metadata = metadata
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        metadata[ModelConfiguration.metadataKey] = String(decoding: try! encoder.encode(configuration), as: UTF8.self)
        return store.stateDictionary(metadata: metadata)
    }
}

extension GCAIALModel {
    /// Builds a model from a checkpoint written by ferd or by the reference PyTorch code. The
    /// configuration comes from ferd's metadata, else from `fallback`, else from the preset whose
    /// shapes the checkpoint has.
    public convenience init(checkpoint: SafetensorsFile, fallback: ModelConfiguration? = nil) throws(ModelError) {
        try self.init(configuration: ModelConfiguration.describing(checkpoint, fallback: fallback))
        try store.load(checkpoint)
    }
}

extension ModelConfiguration {
    /// The checkpoint metadata key under which ferd stores the model configuration as JSON.
    public static let metadataKey = "ferd.model"

    /// The configuration a checkpoint was made with (see ``ExpressionModels/load(_:fallback:)``).
    public static func describing(_ checkpoint: SafetensorsFile, fallback: ModelConfiguration?) throws(ModelError) -> ModelConfiguration {
        if let json = checkpoint.metadata[ModelConfiguration.metadataKey] {
            do {
                return try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8))
            } catch {
                throw ModelError.checkpoint("metadata \(ModelConfiguration.metadataKey) is not a model configuration (\(error)); pass --preset to choose one")
            }
        }
        if let fallback { return fallback }
        func shape(_ key: String) -> [Int]? {
            (checkpoint.tensors[key] ?? checkpoint.tensors["module." + key])?.shape
        }
        for preset in [ModelConfiguration.paper, .small] {
            let model = preset.temporalDimension
            if shape("s_former.pos_embedding") == [1, preset.frames, model]
                && shape("s_former.conv1.0.weight") == [preset.widths[0], 3, 3, 3] {
                return preset
            }
        }
        throw ModelError.checkpoint("the checkpoint has no ferd metadata and matches neither the paper nor the small preset; pass --preset")
    }
}
