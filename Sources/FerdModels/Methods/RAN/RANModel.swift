import FerdTensor

/// The Region Attention Network of Wang et al. (IEEE TIP 2020) applied per frame, module for module the
/// authors' `ResNet` of their region-attention code: a torchvision ResNet-18 gives each of a frame's
/// regions (``RegionCrops``: fixed crops, the whole frame last) a 512-d vector F_i; self-attention
/// μ_i = softmax_i σ(alpha(F_i)); F_m = Σμ_iF_i/Σμ_i; relation attention ν_i = softmax_i σ(beta([F_i; F_m]));
/// P = Σμ_iν_i[F_i; F_m]/Σμ_iν_i; frame logits fc(P). The clip's logits are the mean of its frames'.
/// Parameter names are the authors' (`conv1`, `bn1`, `layer1…4`, `alpha.0`, `beta.0`, `fc`).
public final class RANModel: ExpressionModel {
    public let configuration: ModelConfiguration
    public let store: ParameterStore

    private let backbone: ResNet18
    private let selfAttention: Linear, relationAttention: Linear
    private let classifier: Linear
    private let crops: RegionCrops

    /// Builds the model with the authors' initialisation (normal convolutions with std √(2/(k²·C_out)),
    /// PyTorch's default for the linear layers) drawn from `seed`.
    public init(configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
        try configuration.validate()
        self.configuration = configuration
        let store = ParameterStore()
        self.store = store
        let root = ParameterBuilder(store: store, seed: seed)
        let width = configuration.widths[4]
        backbone = ResNet18(root, widths: configuration.widths)
        selfAttention = Linear(root, "alpha.0", in: width, out: 1)
        relationAttention = Linear(root, "beta.0", in: 2 * width, out: 1)
        classifier = Linear(root, "fc", in: 2 * width, out: configuration.classes)
        crops = RegionCrops(scheme: configuration.ranCrops, size: configuration.imageSize)
    }

    /// Runs the model on clips (B, T, 3, S, S) in [0, 1] (not normalised, as the authors' code). Each region
    /// goes through the backbone as its own batch, as in the authors' loop over regions, so batch norm
    /// sees one region of every frame at a time. The output carries μ of every frame, (B·T, regions).
    /// With ``ModelConfiguration/ranRecompute``, training keeps only each region's pooled features and
    /// runs the region's crop and backbone pass again in the backward pass.
    public func callAsFunction(_ clips: Tensor, training: Bool) throws(ModelError) -> ModelOutput {
        let frames = try configuration.framesOfClips(clips)
        let batch = clips.shape[0], count = frames.shape[0], width = configuration.widths[4], regions = crops.count
        let vectors = (0..<regions).map { index in
            let region = { [backbone, crops] in
                backbone(crops.region(index, of: frames), through: 4, training: training).globalAveragePooled()
            }
            return (configuration.ranRecompute && training ? Tensor.recomputed(region) : region()).reshaped([count, 1, width])
        }
        let features = Tensor.concatenate(vectors, dim: 1)
        let mu = selfAttention(features).sigmoid().reshaped([count, regions]).softmax()
        let weighted = (features * mu.reshaped([count, regions, 1])).sum(dim: 1)
        let mean = weighted / mu.sum(dim: 1, keepingDimension: true)
        let joined = Tensor.concatenate([features, mean.reshaped([count, 1, width]).broadcast(to: [count, regions, width])], dim: 2)
        let nu = relationAttention(joined).sigmoid().reshaped([count, regions]).softmax()
        let weights = mu * nu
        let pooled = (joined * weights.reshaped([count, regions, 1])).sum(dim: 1) / weights.sum(dim: 1, keepingDimension: true)
        let frameLogits = classifier(pooled)
        let logits = frameLogits.reshaped([batch, configuration.frames, configuration.classes]).mean(dim: 1)
        return ModelOutput(logits: logits, regionAttention: mu)
    }
}
