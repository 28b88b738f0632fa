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

    /// The configuration a checkpoint was made with (see ``ExpressionModels/load(_:fallback:)``): ferd's
    /// metadata, else `fallback`, else the paper or small preset of the method whose keys the checkpoint has,
    /// with the checkpoint's classes (and frames, where a position table shows them).
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
        // Each method's telltale key, stem convolution, classifier and temporal position table (the frames).
        let signatures: [(method: ModelMethod, key: String, stem: String, classifier: String, positions: String?)] = [
            (.formerDFER, "t_former.cls_token", "s_former.conv1.weight", "fc.weight", "t_former.pos_embedding"),
            (.stt, "tokenizer.weight", "backbone.conv1.weight", "head.weight", "temporal_pos"),
            (.scn, "alpha.0.weight", "features.0.weight", "fc.weight", nil),
            (.ran, "beta.0.weight", "conv1.weight", "fc.weight", nil),
        ]
        for signature in signatures where shape(signature.key) != nil {
            for name in ["paper", "small"] {
                guard var preset = ModelConfiguration.preset(named: name, method: signature.method),
                      shape(signature.stem) == [preset.widths[0], 3, 7, 7],
                      let classes = shape(signature.classifier)?.first else { continue }
                preset.classes = classes
                if let key = signature.positions, let positions = shape(key), positions.count == 3 {
                    preset.frames = positions[1] - 1
                }
                if signature.method == .stt, shape("blocks.0.temporal_attn.qkv.weight") == nil {
                    preset.sttAttention = .joint
                }
                return preset
            }
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
