import FerdTensor

/// Which method a model implements: the architecture and the training objective of one paper.
public enum ModelMethod: String, Sendable, Codable, CaseIterable {
    /// GCA+IAL (Li et al., AAAI 2023): global-convolution attention and the intensity-aware loss (default).
    case gcaIAL = "gca-ial"
    /// Self-Cure Network (Wang et al., CVPR 2020): importance weighting, rank regularisation, relabelling.
    case scn
    /// Region Attention Network (Wang et al., TIP 2020): region crops with self- and relation-attention.
    case ran
    /// Spatio-temporal transformer (Ma, Sun, Li, 2022), reconstructed: its code and full text are not public.
    case stt
    /// Former-DFER (Zhao and Liu, ACM MM 2021): a spatial and a temporal transformer on a ResNet-18.
    case formerDFER = "former-dfer"
}

/// What one forward pass of an ``ExpressionModel`` produces.
public struct ModelOutput {
    /// Class logits of each clip, (B, classes).
    public var logits: Tensor
    /// GCA+IAL: the auxiliary classifiers of layer2 and layer3, (B, classes) each; empty for attention
    /// kinds without them and for other methods.
    public var auxiliaryLogits: [Tensor]
    /// SCN: the importance weight α of every frame, (B·T); nil for other methods.
    public var importance: Tensor?
    /// RAN: the self-attention weight μ of every region of every frame after the softmax over regions,
    /// (B·T, regions) with the whole face last; nil for other methods.
    public var regionAttention: Tensor?

    public init(logits: Tensor, auxiliaryLogits: [Tensor] = [], importance: Tensor? = nil, regionAttention: Tensor? = nil) {
        self.logits = logits
        self.auxiliaryLogits = auxiliaryLogits
        self.importance = importance
        self.regionAttention = regionAttention
    }
}

/// A model that classifies clips (B, T, 3, S, S) with values in [0, 1] into expression classes; every
/// method ferd trains is one. Parameter names are the method's reference `state_dict` keys.
public protocol ExpressionModel: AnyObject {
    var configuration: ModelConfiguration { get }
    /// Every named parameter and buffer, including the ones the forward pass does not use.
    var store: ParameterStore { get }
    /// Runs the model. In training mode batch norm uses the batch's statistics and updates its running ones.
    func callAsFunction(_ clips: Tensor, training: Bool) throws(ModelError) -> ModelOutput
}

extension ExpressionModel {
    /// The trainable parameters in `state_dict` order.
    public var parameters: [Tensor] { store.parameters }
}

/// Builds the model of a configuration's method.
public enum ExpressionModels {
    /// A freshly initialised model of `configuration.method`, its random draws from `seed`.
    public static func make(_ configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) -> any ExpressionModel {
        switch configuration.method {
        case .gcaIAL:
            return try GCAIALModel(configuration: configuration, seed: seed)
        case .scn:
            return try SCNModel(configuration: configuration, seed: seed)
        case .ran:
            return try RANModel(configuration: configuration, seed: seed)
        case .stt:
            return try STTModel(configuration: configuration, seed: seed)
        case .formerDFER:
            return try FormerDFERModel(configuration: configuration, seed: seed)
        }
    }

    /// A model with the weights of `checkpoint` (written by ferd or by the method's reference code); the
    /// configuration comes from ferd's metadata, else from `fallback`, else from a preset with its shapes.
    public static func load(_ checkpoint: SafetensorsFile, fallback: ModelConfiguration? = nil) throws(ModelError) -> any ExpressionModel {
        let model = try make(ModelConfiguration.describing(checkpoint, fallback: fallback))
        try model.store.load(checkpoint)
        return model
    }
}
