import FerdTensor

/// Former-DFER of Zhao and Liu (ACM MM 2021), module for module the authors' `GenerateModel`: the
/// CS-Former (a torchvision ResNet-18 per frame with a spatial transformer over layer3's map, then layer4
/// and average pooling) and the T-Former (a class token and the frames' vectors through a temporal
/// transformer), the class token's output classified by `fc`. Trained with plain cross-entropy.
/// Parameter names are the authors' `state_dict` keys (`s_former.*`, `t_former.*`, `fc.*`).
public final class FormerDFERModel: ExpressionModel {
    public let configuration: ModelConfiguration
    public let store: ParameterStore

    private let backbone: ResNet18
    private let spatialPositions: Tensor, spatialTransformer: Transformer
    private let classToken: Tensor, temporalPositions: Tensor, temporalTransformer: Transformer
    private let classifier: Linear

    /// Builds the model with the authors' initialisation drawn from `seed`: kaiming-normal convolutions,
    /// N(0, 1) position tables and class token, PyTorch's default for linear layers.
    public init(configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
        try configuration.validate()
        self.configuration = configuration
        let store = ParameterStore()
        self.store = store
        let root = ParameterBuilder(store: store, seed: seed)
        let spatial = root.scope("s_former"), temporal = root.scope("t_former")
        let widths = configuration.widths, tokens = configuration.layer3Tokens
        spatialPositions = spatial.normal("pos_embedding", [1, tokens, widths[3]], std: 1)
        backbone = ResNet18(spatial, widths: widths)
        spatialTransformer = Transformer(spatial.scope("spatial_transformer"), dimension: widths[3],
                                         shape: configuration.spatialTransformer)
        classToken = temporal.normal("cls_token", [1, 1, widths[4]], std: 1)
        temporalPositions = temporal.normal("pos_embedding", [1, configuration.frames + 1, widths[4]], std: 1)
        temporalTransformer = Transformer(temporal.scope("spatial_transformer"), dimension: widths[4],
                                          shape: configuration.temporalTransformer)
        classifier = Linear(root, "fc", in: widths[4], out: configuration.classes)
    }

    /// Runs the model on clips (B, T, 3, S, S) in [0, 1] (no further normalisation, as the authors' loader).
    public func callAsFunction(_ clips: Tensor, training: Bool) throws(ModelError) -> ModelOutput {
        let frames = try configuration.framesOfClips(clips)
        let batch = clips.shape[0], count = frames.shape[0], width = configuration.widths[4]
        let afterLayer3 = backbone(frames, through: 3, training: training)
        let channels = afterLayer3.shape[1], side = afterLayer3.shape[2]
        let tokens = afterLayer3.reshaped([count, channels, side * side]).permuted([0, 2, 1]) + spatialPositions
        let mixed = spatialTransformer(tokens).permuted([0, 2, 1]).reshaped([count, channels, side, side])
        let vectors = backbone.layer(4, mixed, training: training).globalAveragePooled()
        let sequence = Tensor.concatenate([classToken.broadcast(to: [batch, 1, width]),
                                           vectors.reshaped([batch, configuration.frames, width])], dim: 1)
        let encoded = temporalTransformer(sequence + temporalPositions)
        return ModelOutput(logits: classifier(encoded.sliced(dim: 1, 0..<1).reshaped([batch, width])))
    }
}

extension Tensor {
    /// This tensor repeated along its extent-1 dimensions to `shape` (the gradient sums the copies).
    func broadcast(to shape: [Int]) -> Tensor {
        self.shape == shape ? self : self + Tensor(zeros: shape)
    }
}
